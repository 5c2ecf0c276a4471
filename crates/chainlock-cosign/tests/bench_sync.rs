//! Benchmark (ignored by default; `scripts/bench-sync` runs it in release mode): `sync` and
//! `pending` over a coordination remote holding many requests and signatures, first and
//! later syncs, beside `git fetch` of the same refs. Prints a Markdown table.
//!
//! `REQUESTS` (default 1000) release requests follow a real genesis on a local ledger; each
//! carries three maintainers' co-signatures (so 3 x REQUESTS signature refs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use chainlock_chain::{Chain, LocalLedger, PackageId};
use chainlock_cosign::coord::Coord;
use chainlock_cosign::objects::SignatureDoc;
use chainlock_cosign::publisher::{Publisher, DEFAULT_LIFETIME_SECS};
use chainlock_cosign::{ChainConfig, Paths, Workspace};
use chainlock_protocol::bsm::StatementKind;
use chainlock_protocol::hash::Digest;
use chainlock_protocol::keys::SecretKey;
use chainlock_protocol::policy::Policy;
use chainlock_protocol::record::{
    Artifact, Ecosystem, ProtocolVersion, Record, Release, Source, EMPTY_TREE,
};
use chainlock_protocol::record_tx::{self, RecordTx, RecordTxParams};
use chainlock_protocol::request::SigningRequest;
use chainlock_protocol::tx::SpentOutput;
use chainlock_signer::keychain::Keychain;
use chainlock_signer::testing::SecretServiceSession;
use chainlock_signer::OpenOptions;

const NOW: u64 = 1_796_000_000;

fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed().as_secs_f64())
}

fn write_ref(repo: &git2::Repository, name: &str, file: &str, bytes: &[u8]) {
    let blob = repo.blob(bytes).unwrap();
    let mut tb = repo.treebuilder(None).unwrap();
    tb.insert(file, blob, 0o100644).unwrap();
    let tree = repo.find_tree(tb.write().unwrap()).unwrap();
    let sig = git2::Signature::new("b", "b@b", &git2::Time::new(0, 0)).unwrap();
    let commit = repo.commit(None, &sig, &sig, "bench", &tree, &[]).unwrap();
    repo.reference(name, commit, true, "bench").unwrap();
}

#[test]
#[ignore = "benchmark: run scripts/bench-sync"]
fn sync_and_pending_over_many_requests() {
    let requests: usize = std::env::var("REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let session = SecretServiceSession::start();
    for (name, value) in session.envs() {
        std::env::set_var(name, value);
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let ledger_path = root.join("ledger.sqlite");
    let ledger = LocalLedger::open(&ledger_path).unwrap();

    // A source repository (the co-signer's clone) and the coordination remote.
    let source = root.join("source");
    let repo = git2::Repository::init(&source).unwrap();
    std::fs::write(source.join("index.js"), "module.exports = 1;\n").unwrap();
    let mut index = repo.index().unwrap();
    index.add_path(Path::new("index.js")).unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = git2::Signature::now("a", "a@a").unwrap();
    let head = repo
        .commit(Some("HEAD"), &sig, &sig, "1.0.0", &tree, &[])
        .unwrap()
        .to_string();
    let remote_dir = root.join("remote.git");
    git2::Repository::init_bare(&remote_dir).unwrap();
    let remote = format!("file://{}", remote_dir.display());

    // Three maintainers whose keys are both in the keychain and in memory.
    let keys: Vec<SecretKey> = (1..=3u8)
        .map(|i| SecretKey::from_bytes(&[i; 32]).unwrap())
        .collect();
    let publisher_paths = Paths {
        config_dir: root.join("alice/config"),
        data_dir: root.join("alice/data"),
    };
    let you = Paths {
        config_dir: root.join("you/config"),
        data_dir: root.join("you/data"),
    };
    let alice_keys = Keychain::new(Some(publisher_paths.config_dir.clone())).unwrap();
    let alice = alice_keys.import(keys[0].clone(), "alice").unwrap();
    let funding = alice_keys.generate("funding").unwrap();
    let your_keys = Keychain::new(Some(you.config_dir.clone())).unwrap();
    let mine = your_keys.import(keys[1].clone(), "you").unwrap();
    for p in [&publisher_paths, &you] {
        Workspace::open(p.clone())
            .unwrap()
            .set_chain(ChainConfig::Local {
                path: Some(ledger_path.clone()),
            })
            .unwrap();
    }
    let builder = chainlock_attest::BuilderKey::from_seed(&[9; 32])
        .public_key()
        .to_hex();
    let policy = Policy::new(
        keys.iter().map(SecretKey::public_key).collect(),
        2,
        vec![builder],
        1,
        60,
    )
    .unwrap();
    let package = PackageId::new(Ecosystem::Npm, "bench");
    let publisher = Publisher {
        chain: &ledger,
        config_dir: publisher_paths.config_dir.clone(),
        coord: Coord::open(&publisher_paths.mirror("npm:bench"), &remote).unwrap(),
        publisher_key: alice.uri(),
        funding_key: funding.key_id.clone(),
        options: OpenOptions {
            config_dir: Some(publisher_paths.config_dir.clone()),
            ..OpenOptions::default()
        },
    };
    let (script, _) = publisher.funding_script().unwrap();
    ledger.faucet(&script, 1_000_000).unwrap();
    publisher.fund(&policy, 2, 10_000).unwrap();
    let genesis = publisher
        .request(
            Publisher::genesis(&package, &policy),
            &policy,
            vec![],
            NOW,
            DEFAULT_LIFETIME_SECS,
        )
        .unwrap();
    let gid = genesis.id().unwrap().to_hex();
    let mut ws = Workspace::open(you.clone()).unwrap();
    ws.watch_add(&remote, &source).unwrap();
    let ws_alice = {
        let mut w = Workspace::open(publisher_paths.clone()).unwrap();
        w.watch_add(&remote, &source).unwrap();
        w
    };
    let opts = |p: &Paths| OpenOptions {
        config_dir: Some(p.config_dir.clone()),
        ..OpenOptions::default()
    };
    ws.sign(&gid, &mine.uri(), &opts(&you), NOW, false).unwrap();
    ws_alice.sync().unwrap();
    ws_alice
        .sign(&gid, &alice.uri(), &opts(&publisher_paths), NOW, false)
        .unwrap();
    ws_alice.finalize(&gid, NOW).unwrap();
    let genesis_digest = ledger
        .record_chain(&package)
        .unwrap()
        .genesis()
        .unwrap()
        .digest;

    // REQUESTS release requests on one custody output, each with three co-signatures,
    // written straight into the remote.
    let custody = policy.custody_script().unwrap();
    let (outpoint, out) = ledger.unspent_outputs(&custody).unwrap()[0].clone();
    let funding_tx = ledger.transaction(&outpoint.txid).unwrap().unwrap();
    let diff = chainlock_diff::diff_digest(&source, None, &head).unwrap();
    let remote_repo = git2::Repository::open_bare(&remote_dir).unwrap();
    let (_, generate) = timed(|| {
        for i in 0..requests {
            let record = Record::Release(Release {
                protocol: ProtocolVersion::V1,
                ecosystem: Ecosystem::Npm,
                package: "bench".into(),
                version: format!("1.0.{i}"),
                source: Source {
                    repository: remote.clone(),
                    tag: format!("v1.0.{i}"),
                    commit: head.clone(),
                    base_commit: EMPTY_TREE.into(),
                },
                artifact: Artifact {
                    name: "bench.tgz".into(),
                    size: 100,
                    sha256: Digest([7; 32]),
                },
                diff_digest: Digest(diff.digest),
                attestation_digest: Digest([8; 32]),
                policy_digest: policy.digest().unwrap(),
                previous: genesis_digest,
            });
            let rtx: RecordTx = record_tx::build(&RecordTxParams {
                custody_outpoint: outpoint,
                spent: SpentOutput {
                    script_pubkey: out.script_pubkey.clone(),
                    value: out.value,
                },
                record_digest: record.digest().unwrap(),
                change_pubkey_hash: Some([1; 20]),
                fee_sat_per_kb: 100,
            })
            .unwrap();
            let mut req = SigningRequest::new(
                record,
                policy.clone(),
                vec![],
                &rtx,
                &funding_tx,
                NOW,
                NOW + 86_400,
                keys[0].public_key(),
            )
            .unwrap();
            let id = req.id().unwrap();
            req.attach_signature(keys[0].sign_statement(StatementKind::Request, &id.0))
                .unwrap();
            write_ref(
                &remote_repo,
                &format!("refs/chainlock/req/{id}/request"),
                "request.json",
                &serde_json::to_vec_pretty(&req).unwrap(),
            );
            for k in &keys {
                let signature =
                    chainlock_protocol::testing::sign_unverified_input(k, rtx.tx(), 0, rtx.spent())
                        .unwrap();
                let doc = SignatureDoc {
                    protocol: ProtocolVersion::V1,
                    request: id,
                    public_key: k.public_key(),
                    signature: hex::encode(signature),
                };
                write_ref(
                    &remote_repo,
                    &format!("refs/chainlock/req/{id}/sig/{}", k.public_key().key_id()),
                    "signature.json",
                    &serde_json::to_vec(&doc).unwrap(),
                );
            }
        }
    });
    let refs = remote_repo
        .references_glob("refs/chainlock/*")
        .unwrap()
        .count();

    // git alone: a fresh fetch of the same refs, then a fetch with nothing new.
    let plain = root.join("plain.git");
    git2::Repository::init_bare(&plain).unwrap();
    let git_fetch = || {
        let status = Command::new("git")
            .args(["fetch", "-q", &remote, "+refs/chainlock/*:refs/chainlock/*"])
            .current_dir(&plain)
            .status()
            .unwrap();
        assert!(status.success());
    };
    let (_, git_first) = timed(git_fetch);
    let (_, git_again) = timed(git_fetch);

    let (summary, first_sync) = timed(|| ws.sync().unwrap());
    assert_eq!(summary[0].requests, requests + 1);
    let (pending, first_pending) = timed(|| ws.requests().unwrap());
    assert_eq!(pending.len(), requests + 1);
    let (_, later_sync) = timed(|| ws.sync().unwrap());
    let (_, later_pending) = timed(|| ws.requests().unwrap());
    let (_, review_one) = timed(|| ws.review(&pending[0].request, NOW).unwrap());

    println!(
        "\n{requests} requests, {} signatures, {refs} refs (generated in {generate:.1} s)\n",
        requests * 3 + 2
    );
    println!("| operation | time |");
    println!("|---|---|");
    println!("| `git fetch` of refs/chainlock/*, first | {git_first:.2} s |");
    println!("| `git fetch`, nothing new | {git_again:.2} s |");
    println!("| `sync`, first (fetch + verify every object) | {first_sync:.2} s |");
    println!("| pending list (`chainlock pending --all`), first | {first_pending:.2} s |");
    println!("| `sync`, nothing new | {later_sync:.2} s |");
    println!("| pending list, later | {later_pending:.2} s |");
    println!("| `review` of one request | {review_one:.2} s |");
    drop(session);
}
