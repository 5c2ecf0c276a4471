//! Parser differentials: archives that npm (node-tar), Python's tarfile and zipfile, or pip
//! would read differently from us are refused, so what we compare is what gets installed.
//!
//! Each archive is written block by block, since the point is what no honest packer writes.

use std::io::Write;

use chainlock_review::{Archive, Error, Limits};

/// The magic and version fields of a tar header.
#[derive(Clone, Copy)]
enum Magic {
    /// POSIX ustar: `ustar\0` `00`.
    Ustar,
    /// GNU: `ustar  \0`.
    Gnu,
    /// Old v7 tar: no magic at all.
    V7,
}

/// One 512-byte tar header, with a correct checksum.
fn header(name: &[u8], size: usize, typ: u8, link: &[u8], magic: Magic) -> Vec<u8> {
    let mut b = vec![0u8; 512];
    b[..name.len()].copy_from_slice(name);
    b[100..108].copy_from_slice(b"0000644\0");
    b[108..116].copy_from_slice(b"0000000\0");
    b[116..124].copy_from_slice(b"0000000\0");
    b[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    b[136..148].copy_from_slice(b"00000000000\0");
    b[156] = typ;
    b[157..157 + link.len()].copy_from_slice(link);
    match magic {
        Magic::Ustar => b[257..265].copy_from_slice(b"ustar\x0000"),
        Magic::Gnu => b[257..265].copy_from_slice(b"ustar  \0"),
        Magic::V7 => {}
    }
    b[148..156].copy_from_slice(b"        ");
    let sum: u32 = b.iter().map(|&x| u32::from(x)).sum();
    b[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    b
}

/// `data` padded with zeros to whole 512-byte blocks.
fn padded(data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    out.resize(data.len().div_ceil(512) * 512, 0);
    out
}

/// A header of type `typ` followed by its data.
fn member(name: &str, typ: u8, link: &str, data: &[u8], magic: Magic) -> Vec<u8> {
    let mut out = header(name.as_bytes(), data.len(), typ, link.as_bytes(), magic);
    out.extend(padded(data));
    out
}

/// A regular file in a ustar header.
fn file(name: &str, data: &[u8]) -> Vec<u8> {
    member(name, b'0', "", data, Magic::Ustar)
}

/// A PAX extended header (`x`, or `g` for global) holding `records` in order.
fn pax(records: &[(&str, &str)], typ: u8, magic: Magic) -> Vec<u8> {
    let mut body = Vec::new();
    for (key, value) in records {
        let rec = format!(" {key}={value}\n");
        // The length counts its own digits.
        let mut len = rec.len() + 1;
        while len.to_string().len() + rec.len() != len {
            len += 1;
        }
        body.extend_from_slice(format!("{len}{rec}").as_bytes());
    }
    member("PaxHeader", typ, "", &body, magic)
}

/// The two zero blocks that end a tar.
const END: [u8; 1024] = [0; 1024];

fn tar(members: &[Vec<u8>]) -> Vec<u8> {
    let mut out = members.concat();
    out.extend_from_slice(&END);
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).expect("gzip");
    enc.finish().expect("gzip")
}

fn read(bytes: &[u8], name: &str) -> Result<Archive, Error> {
    Archive::from_bytes(bytes, name, None, &Limits::default())
}

/// Asserts an `Ambiguous` refusal whose message contains `phrase` and says what to do.
#[track_caller]
fn assert_ambiguous(result: Result<Archive, Error>, phrase: &str) {
    let err = result.expect_err("must be refused");
    let message = err.to_string();
    assert!(matches!(err, Error::Ambiguous { .. }), "{message}");
    assert!(message.contains(phrase), "{message:?} lacks {phrase:?}");
    assert!(message.contains("do not sign"), "{message}");
}

/// The files every test archive starts with: a plausible npm package.
fn package() -> Vec<Vec<u8>> {
    vec![
        file("package/package.json", br#"{"name":"x","version":"1.0.0"}"#),
        file("package/index.js", b"module.exports = 1;\n"),
    ]
}

#[test]
fn well_formed_tar_written_by_hand_is_read() {
    let archive = read(&gzip(&tar(&package())), "x-1.0.0.tgz").expect("clean archive");
    assert_eq!(archive.entries.len(), 2);
}

/// node and Python read every gzip member; the first alone looked clean.
#[test]
fn gzip_with_a_second_member_is_refused() {
    // The first member holds a complete tar, the second a tar with the payload.
    let mut bytes = gzip(&tar(&package()));
    bytes.extend(gzip(&tar(&[file("package/evil.js", b"steal()\n")])));
    assert_ambiguous(read(&bytes, "x.tgz"), "after the first gzip member");

    // One tar stream cut in two members: the first ends where a header would start.
    let mut bytes = gzip(&package().concat());
    bytes.extend(gzip(&tar(&[file("package/evil.js", b"steal()\n")])));
    assert_ambiguous(read(&bytes, "x.tgz"), "after the first gzip member");
}

/// node-tar and Python's tarfile take a PAX `path`; the tar crate took the GNU long name.
#[test]
fn pax_path_and_gnu_long_name_for_one_entry_are_refused() {
    let mut members = package();
    members.push(pax(&[("path", "package/a.js")], b'x', Magic::Ustar));
    members.push(member(
        "././@LongLink",
        b'L',
        "",
        b"package/b.js\0",
        Magic::Gnu,
    ));
    members.push(file("package/short.js", b"payload()\n"));
    assert_ambiguous(
        read(&gzip(&tar(&members)), "x.tgz"),
        "both a PAX header and a GNU long name",
    );
}

/// The tar crate took the first `path`, Python and node the last.
#[test]
fn pax_header_with_a_repeated_key_is_refused() {
    let mut members = package();
    members.push(pax(
        &[("path", "package/a.js"), ("path", "package/evil.js")],
        b'x',
        Magic::Ustar,
    ));
    members.push(file("package/short.js", b"payload()\n"));
    assert_ambiguous(read(&gzip(&tar(&members)), "x.tgz"), "\"path\" twice");
}

/// Without magic the tar crate returned these as plain entries that were then skipped,
/// while Python applies them to the next entry.
#[test]
fn long_name_and_pax_headers_without_magic_are_refused() {
    let mut members = package();
    members.push(member(
        "././@LongLink",
        b'L',
        "",
        b"package/evil.js\0",
        Magic::V7,
    ));
    members.push(file("package/short.js", b"payload()\n"));
    assert_ambiguous(
        read(&gzip(&tar(&members)), "x.tgz"),
        "without ustar or GNU magic",
    );

    let mut members = package();
    members.push(pax(&[("path", "package/evil.js")], b'x', Magic::V7));
    members.push(file("package/short.js", b"payload()\n"));
    assert_ambiguous(
        read(&gzip(&tar(&members)), "x.tgz"),
        "without ustar or GNU magic",
    );
}

/// Python applies a global header to every later entry; the tar crate ignored it.
#[test]
fn global_pax_header_is_refused() {
    let mut members = vec![pax(&[("path", "package/evil.js")], b'g', Magic::Ustar)];
    members.extend(package());
    assert_ambiguous(read(&gzip(&tar(&members)), "x.tgz"), "global PAX header");
}

/// Two records of one kind for one entry: readers keep the first, the last, or fail.
#[test]
fn repeated_metadata_headers_for_one_entry_are_refused() {
    let mut members = package();
    members.push(pax(&[("path", "package/a.js")], b'x', Magic::Ustar));
    members.push(pax(&[("path", "package/b.js")], b'x', Magic::Ustar));
    members.push(file("package/short.js", b"payload()\n"));
    assert_ambiguous(read(&gzip(&tar(&members)), "x.tgz"), "two PAX headers");
}

/// Python's tarfile takes `GNU.sparse.name` as the path and `GNU.sparse.size` as the size.
#[test]
fn pax_sparse_records_are_refused() {
    let mut members = package();
    members.push(pax(
        &[("GNU.sparse.name", "package/evil.js")],
        b'x',
        Magic::Ustar,
    ));
    members.push(file("package/short.js", b"payload()\n"));
    assert_ambiguous(read(&gzip(&tar(&members)), "x.tgz"), "GNU.sparse.name");
}

/// A metadata header must describe an entry: at the end it describes nothing.
#[test]
fn metadata_header_with_no_entry_after_it_is_refused() {
    let mut members = package();
    members.push(pax(&[("path", "package/a.js")], b'x', Magic::Ustar));
    assert_ambiguous(read(&gzip(&tar(&members)), "x.tgz"), "no entry after it");
}

/// A PAX record whose length does not match, or whose value holds a newline: node-tar
/// splits records at newlines, Python and the tar crate count bytes.
#[test]
fn malformed_pax_records_are_refused() {
    // Python reads path "package/a.js\nx=y"; node-tar drops the record, keeping the name.
    let body = b"25 path=package/a.js\nx=y\n";
    let mut members = package();
    members.push(member("PaxHeader", b'x', "", body, Magic::Ustar));
    members.push(file("package/short.js", b"payload()\n"));
    assert_ambiguous(read(&gzip(&tar(&members)), "x.tgz"), "PAX record");
}

/// Long paths as packers write them still read: a PAX `path` (npm, Python's sdist) and a
/// GNU long name written by the tar crate (cargo package).
#[test]
fn long_paths_from_pax_and_gnu_headers_are_read() {
    let long = format!("package/{}/index.js", "d".repeat(120));
    let mut members = package();
    members.push(pax(
        &[("path", &long), ("mtime", "1700000000.5")],
        b'x',
        Magic::Ustar,
    ));
    members.push(file("package/short.js", b"long()\n"));
    let archive = read(&gzip(&tar(&members)), "x.tgz").expect("PAX long path");
    assert!(archive.entries.iter().any(|e| e.path == long));

    let mut builder = tar::Builder::new(Vec::new());
    for (path, data) in [(long.as_str(), &b"long()\n"[..]), ("package/a.js", b"a")] {
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        header.set_size(data.len() as u64);
        builder
            .append_data(&mut header, path, data)
            .expect("append");
    }
    let bytes = builder.into_inner().expect("tar");
    let archive = read(&gzip(&bytes), "x.crate").expect("GNU long name");
    let paths: Vec<&str> = archive.entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["package/a.js", long.as_str()]);
}

/// The tar crate skips the data of a directory or link; Python's tarfile and node-tar read
/// it as the next headers, here a file the comparison never saw.
#[test]
fn directories_and_links_with_data_are_refused() {
    let hidden = tar(&[file("package/evil.js", b"steal()\n")]);
    for (name, typ, link) in [
        ("package/lib/", b'5', ""),
        ("package/l", b'2', "index.js"),
        ("package/h", b'1', "package/index.js"),
        // An old-style directory: a file (type NUL) whose name ends with a slash.
        ("package/old/", b'\0', ""),
    ] {
        let mut members = package();
        members.push(member(name, typ, link, &hidden, Magic::Ustar));
        assert_ambiguous(read(&gzip(&tar(&members)), "x.tgz"), "bytes of data");
    }
    // A PAX size on a directory whose header says 0 is refused too.
    let mut members = package();
    members.push(pax(&[("size", "512")], b'x', Magic::Ustar));
    members.push(member("package/lib/", b'5', "", b"", Magic::Ustar));
    members.push(file("package/evil.js", b"steal()\n"));
    assert_ambiguous(read(&gzip(&tar(&members)), "x.tgz"), "PAX size");
}

/// The tar crate stops at one zero block; node-tar only at two, and reads on after one.
#[test]
fn entries_after_a_single_zero_block_are_refused() {
    let mut bytes = package().concat();
    bytes.extend_from_slice(&[0; 512]);
    bytes.extend(tar(&[file("package/evil.js", b"steal()\n")]));
    assert_ambiguous(read(&gzip(&bytes), "x.tgz"), "after the end-of-archive");
    assert_ambiguous(read(&bytes, "x.tar"), "after the end-of-archive");

    // Zeros after the end, as GNU tar pads to a 10 KiB record, are fine.
    let mut bytes = tar(&package());
    bytes.resize(10240, 0);
    read(&gzip(&bytes), "x.tgz").expect("zero padding");
}

/// A stored zip written field by field; each entry is (name in the headers, extra field,
/// data) and is a regular file with mode 0644.
fn raw_zip(entries: &[(&str, Vec<u8>, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, extra, data) in entries {
        let mut crc = flate2::Crc::new();
        crc.update(data);
        let offset = out.len() as u32;
        let sizes = [crc.sum(), data.len() as u32, data.len() as u32];
        let lengths = [name.len() as u16, extra.len() as u16];
        // Local header: version 2.0, no flags, stored, 1980-01-01.
        out.extend_from_slice(b"PK\x03\x04\x14\x00\x00\x00\x00\x00\x00\x00\x21\x00");
        sizes.iter().for_each(|v| out.extend(v.to_le_bytes()));
        lengths.iter().for_each(|v| out.extend(v.to_le_bytes()));
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(extra);
        out.extend_from_slice(data);
        // Central header: made by Unix, then the same fields, then attributes and offset.
        central.extend_from_slice(b"PK\x01\x02\x1e\x03\x14\x00\x00\x00\x00\x00\x00\x00\x21\x00");
        sizes.iter().for_each(|v| central.extend(v.to_le_bytes()));
        lengths.iter().for_each(|v| central.extend(v.to_le_bytes()));
        central.extend_from_slice(&[0; 6]); // comment length, disk, internal attributes
        central.extend((0o100_644u32 << 16).to_le_bytes());
        central.extend(offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
        central.extend_from_slice(extra);
    }
    let count = entries.len() as u16;
    let (cd_size, cd_offset) = (central.len() as u32, out.len() as u32);
    out.extend(central);
    out.extend_from_slice(b"PK\x05\x06\x00\x00\x00\x00");
    out.extend(count.to_le_bytes());
    out.extend(count.to_le_bytes());
    out.extend(cd_size.to_le_bytes());
    out.extend(cd_offset.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out
}

/// An Info-ZIP Unicode Path extra field (0x7075) giving `unicode` as the name of an entry
/// whose header names `raw`.
fn unicode_path_field(raw: &str, unicode: &str) -> Vec<u8> {
    let mut crc = flate2::Crc::new();
    crc.update(raw.as_bytes());
    let mut field = vec![0x75, 0x70];
    field.extend((5 + unicode.len() as u16).to_le_bytes());
    field.push(1);
    field.extend(crc.sum().to_le_bytes());
    field.extend_from_slice(unicode.as_bytes());
    field
}

/// The zip crate reports the Unicode Path field's name; pip and Python's zipfile install the
/// file under the name in the header.
#[test]
fn zip_entry_renamed_by_a_unicode_path_field_is_refused() {
    let field = unicode_path_field("demo/evil.pth", "demo/__init__.py");
    let bytes = raw_zip(&[
        (
            "demo-1.0.dist-info/WHEEL",
            Vec::new(),
            b"Wheel-Version: 1.0\n",
        ),
        ("demo/evil.pth", field, b"import os; os.system('x')\n"),
    ]);
    assert_ambiguous(read(&bytes, "demo-1.0-py3-none-any.whl"), "Unicode Path");

    // The same field agreeing with the header is harmless.
    let field = unicode_path_field("demo/__init__.py", "demo/__init__.py");
    let bytes = raw_zip(&[("demo/__init__.py", field, b"x = 1\n")]);
    let archive = read(&bytes, "demo.whl").expect("agreeing Unicode Path field");
    assert_eq!(archive.entries[0].path, "demo/__init__.py");
}

/// Extracted, a hard link to a symlink is a symlink resolved from the link's own place, a
/// target nobody checked: `package/h` to `package/a/b/l -> ../../x` points outside.
#[test]
fn hard_link_to_a_symlink_is_refused() {
    let mut members = package();
    members.push(member("package/a/b/l", b'2', "../../x", b"", Magic::Ustar));
    members.push(member(
        "package/h",
        b'1',
        "package/a/b/l",
        b"",
        Magic::Ustar,
    ));
    let err = read(&tar(&members), "x.tar").expect_err("must be refused");
    assert!(
        matches!(&err, Error::HardLinkToSymlink { entry, target } if entry == "package/h" && target == "package/a/b/l"),
        "{err}"
    );
    assert!(err.to_string().contains("do not sign"), "{err}");
}

/// Python's extractall follows symlinks it has just written: `pkg/l1 -> ..` and
/// `pkg/l1/l2 -> ..` put `pkg/l1/l2/escaped.txt` outside the target directory, though each
/// link alone stays inside.
#[test]
fn paths_through_a_symlink_of_the_archive_are_refused() {
    let chain = tar(&[
        member("pkg/l1", b'2', "..", b"", Magic::Ustar),
        member("pkg/l1/l2", b'2', "..", b"", Magic::Ustar),
        file("pkg/l1/l2/escaped.txt", b"owned\n"),
    ]);
    let err = read(&chain, "x.tar").expect_err("must be refused");
    assert!(
        matches!(&err, Error::ThroughSymlink { entry, link } if entry == "pkg/l1/l2" && link == "pkg/l1"),
        "{err}"
    );
    assert!(err.to_string().contains("do not sign"), "{err}");

    // A file written below a symlink that comes later in the archive.
    let later = tar(&[
        file("pkg/d/f.txt", b"x\n"),
        member("pkg/d", b'2', "..", b"", Magic::Ustar),
    ]);
    assert!(matches!(
        read(&later, "x.tar"),
        Err(Error::ThroughSymlink { entry, link }) if entry == "pkg/d/f.txt" && link == "pkg/d"
    ));

    // A target read as text stays inside (`pkg/up/..` is `pkg`), but `pkg/up` is the root,
    // so `up/../secret` is a sibling of the install directory.
    let target = tar(&[
        member("pkg/up", b'2', "..", b"", Magic::Ustar),
        member("pkg/x", b'2', "up/../secret", b"", Magic::Ustar),
    ]);
    assert!(matches!(
        read(&target, "x.tar"),
        Err(Error::ThroughSymlink { entry, link }) if entry == "pkg/x" && link == "pkg/up"
    ));

    // A chain of links, each naming the next as a whole, is fine (libfoo.so -> libfoo.so.1).
    let ok = tar(&[
        file("pkg/c.js", b"c\n"),
        member("pkg/b.js", b'2', "c.js", b"", Magic::Ustar),
        member("pkg/a.js", b'2', "b.js", b"", Magic::Ustar),
    ]);
    assert_eq!(read(&ok, "x.tar").expect("a chain").entries.len(), 3);
}

/// Python's tarfile joins the prefix field to the name in any header, the tar crate and
/// node-tar only in a ustar one: here Python installs `evil/package/x.js`.
#[test]
fn prefix_field_in_a_header_that_is_not_ustar_is_refused() {
    for magic in [Magic::Gnu, Magic::V7] {
        let mut entry = member("package/x.js", b'0', "", b"x\n", magic);
        entry[345..349].copy_from_slice(b"evil");
        // Fix the checksum after the edit.
        entry[148..156].copy_from_slice(b"        ");
        let sum: u32 = entry[..512].iter().map(|&x| u32::from(x)).sum();
        entry[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        let mut members = package();
        members.push(entry);
        assert_ambiguous(read(&tar(&members), "x.tar"), "prefix field");
    }
}
