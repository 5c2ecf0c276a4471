//! A full release through ARC and WhatsOnChain-style lookups, from the command line: a fake
//! BSV network on 127.0.0.1 (ARC checked against arc.yaml, every transaction judged by
//! @bsv/sdk, mined into a local chain with real headers and merkle roots), a `git daemon`,
//! a real Secret Service and real sandboxed rebuilds. Alice publishes, Alice and Bob co-sign
//! (2 of 2), `finalize` broadcasts through ARC, the blocks are mined, `prove` writes the
//! bundles from the lookups' proofs, and `chainlock verify-record` passes offline with the
//! lookups' headers; tampered bundles fail.

use std::path::PathBuf;
use std::process::Command;

use chainlock_protocol::keys::PublicKey;
use chainlock_protocol::script::Script;
use chainlock_signer::testing::SecretServiceSession;

use crate::cosign::{attest_and_publish, builder, git, pack_tag, upstream, GitDaemon, Person};
use crate::network_server::FakeNetwork;
use crate::util::chainlock;

fn funding_script(public_key_hex: &str) -> Script {
    let key = PublicKey::from_bytes(&hex::decode(public_key_hex).unwrap()).unwrap();
    Script::p2pkh(&key.hash160())
}

fn signed_by_both(alice: &Person<'_>, bob: &Person<'_>, id: &str) {
    for p in [bob, alice] {
        p.ok(&["sync"]);
        let review = p.json(&["review", id]);
        assert_eq!(review["ready_to_sign"], true, "{review:#}");
        p.ok(&["sign", id, "--key", &p.uri()]);
    }
    alice.ok(&["sync"]);
}

#[test]
fn a_release_goes_through_arc_and_verifies_offline_with_the_lookups_headers() {
    let session = SecretServiceSession::start();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let served = root.join("served");
    std::fs::create_dir_all(&served).unwrap();
    let daemon = GitDaemon::start(&served);
    let (work, commit) = upstream(root, &served);
    let remote = format!("{}pad.git", daemon.url);
    let net = FakeNetwork::start();

    let alice = Person::new(&session, root, "alice");
    let bob = Person::new(&session, root, "bob");
    let funding = alice.json(&["key", "new", "--label", "alice funding"]);
    let funding_id = funding["key_id"].as_str().unwrap().to_string();
    for p in [&alice, &bob] {
        p.ok(&[
            "chain",
            "use",
            "arc",
            &net.url,
            "--lookups",
            &net.lookups_url(),
        ]);
        let shown = p.ok(&["chain", "show"]);
        assert!(shown.contains("with lookups at"), "{shown}");
    }
    // Coins from elsewhere for Alice's funding key; the loop finds them through the lookups.
    net.coins(
        &funding_script(funding["public_key"].as_str().unwrap()),
        200_000,
    );
    let builders: Vec<(PathBuf, String)> = (1..=2)
        .map(|i| builder(&alice, root, &format!("builder{i}")))
        .collect();
    let work_s = work.to_str().unwrap();
    let init = alice.ok(&[
        "init",
        "--package",
        "npm:pad",
        "--maintainer",
        &alice.public_key,
        "--maintainer",
        &bob.public_key,
        "--threshold",
        "2",
        "--builder",
        &builders[0].1,
        "--builder",
        &builders[1].1,
        "--min-builders",
        "2",
        "--repo",
        work_s,
        "--remote",
        &remote,
        "--key",
        &alice.uri(),
        "--funding-key",
        &funding_id,
    ]);
    assert!(init.contains("published genesis request"), "{init}");
    for p in [&bob, &alice] {
        let clone = p.home.join("clone");
        p.json(&["watch", "add", &remote, "--clone", clone.to_str().unwrap()]);
    }
    let pending = bob.json(&["pending"]);
    let genesis_id = pending[0]["request"].as_str().unwrap().to_string();
    signed_by_both(&alice, &bob, &genesis_id);
    let fin = alice.json(&["finalize", &genesis_id]);
    assert_eq!(fin["status"], "accepted", "{fin}");
    net.mine();
    alice.ok(&["pin", "--package", "npm:pad", "--repo", work_s]);

    for (i, (key, _)) in builders.iter().enumerate() {
        let envelope = root.join(format!("envelope{i}.json"));
        let build = "npm pack --offline --ignore-scripts";
        attest_and_publish(&alice, &remote, &commit, build, key, &envelope);
    }
    let pack = pack_tag(root, &remote, "v1.0.0", &session);
    let created = alice.ok(&[
        "request",
        "create",
        "--tag",
        "v1.0.0",
        "--artifact",
        pack.join("pad-1.0.0.tgz").to_str().unwrap(),
        "--package",
        "npm:pad",
        "--repo",
        work_s,
        "--remote",
        &remote,
        "--key",
        &alice.uri(),
        "--funding-key",
        &funding_id,
    ]);
    assert!(created.contains("2 attestations relied on"), "{created}");
    bob.ok(&["sync"]);
    let pending = bob.json(&["pending"]);
    assert_eq!(pending.as_array().unwrap().len(), 1, "{pending}");
    let release_id = pending[0]["request"].as_str().unwrap().to_string();
    signed_by_both(&alice, &bob, &release_id);
    let fin = alice.json(&["finalize", &release_id]);
    assert_eq!(fin["status"], "accepted", "{fin}");
    // The genesis is mined, the release not yet: `prove` adds the genesis's proof only.
    let out = alice.ok(&["prove"]);
    assert_eq!(out.matches("proof.beef added").count(), 1, "{out}");
    assert_eq!(out.matches("not mined").count(), 1, "{out}");
    net.mine();
    let out = alice.ok(&["prove"]);
    assert_eq!(out.matches("proof.beef added").count(), 1, "{out}");
    assert_eq!(out.matches(": complete").count(), 1, "{out}");

    // Offline: the lookups' headers in a file, bundle directories from the remote.
    let headers = root.join("headers.bin");
    alice.ok(&["chain", "headers", "--out", headers.to_str().unwrap()]);
    assert_eq!(std::fs::read(&headers).unwrap(), net.headers().to_bytes());
    let bare = served.join("pad.git");
    let refs = git(
        &bare,
        &[
            "for-each-ref",
            "--format=%(refname)",
            "refs/chainlock/record/",
        ],
    );
    let bundles = root.join("bundles");
    let (mut release_dir, mut genesis) = (None, None);
    for name in refs.lines() {
        let digest = name.rsplit('/').next().unwrap();
        let d = bundles.join(digest);
        std::fs::create_dir_all(&d).unwrap();
        for file in ["record.json", "tx.hex", "proof.beef"] {
            let out = Command::new("git")
                .arg("--git-dir")
                .arg(&bare)
                .args(["show", &format!("{name}:{file}")])
                .output()
                .unwrap();
            assert!(out.status.success(), "{name}:{file}");
            std::fs::write(d.join(file), out.stdout).unwrap();
        }
        let record = std::fs::read_to_string(d.join("record.json")).unwrap();
        if record.contains("\"type\":\"genesis\"") {
            genesis = Some(digest.to_string());
        } else {
            release_dir = Some(d);
        }
    }
    let (release_dir, genesis) = (release_dir.unwrap(), genesis.unwrap());
    let verify = || {
        // No configuration, no network: the files only.
        let out = chainlock()
            .args([
                "verify-record",
                release_dir.to_str().unwrap(),
                "--headers",
                headers.to_str().unwrap(),
                "--genesis",
                &genesis,
            ])
            .env("CHAINLOCK_CONFIG_DIR", root.join("nobody/config"))
            .env("CHAINLOCK_DATA_DIR", root.join("nobody/data"))
            .output()
            .unwrap();
        (
            out.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (code, text) = verify();
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("VERIFIED release pad@1.0.0"), "{text}");
    assert!(text.contains("2 record(s) back to genesis"), "{text}");

    // Tampered: a record field, then the record transaction.
    let record_path = release_dir.join("record.json");
    let record = std::fs::read_to_string(&record_path).unwrap();
    std::fs::write(&record_path, record.replace("\"size\":", "\"size\":1")).unwrap();
    let (code, text) = verify();
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("record field or commitment tampered"),
        "{text}"
    );
    std::fs::write(&record_path, &record).unwrap();
    let tx_path = release_dir.join("tx.hex");
    let tx = std::fs::read_to_string(&tx_path).unwrap();
    let mut bent = chainlock_protocol::tx::Transaction::from_hex(tx.trim()).unwrap();
    bent.outputs[1].value -= 1; // the change: a transaction the co-signers did not sign
    std::fs::write(&tx_path, bent.to_hex()).unwrap();
    let (code, text) = verify();
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("NOT VERIFIED") && text.contains("the BEEF does not hold record transaction"),
        "{text}"
    );
    std::fs::write(&tx_path, &tx).unwrap();
    assert_eq!(verify().0, Some(0), "restored");

    assert_eq!(net.violations(), Vec::<String>::new());
    // Every transaction the network took was judged valid by @bsv/sdk first: the custody
    // top-up, the genesis and the release.
    assert_eq!(net.judged(), 3);
}
