//! A release request checked end to end with its evidence: a real repository with two tagged
//! releases, real rebuilds by builders with their own keys, and the diff digest recomputed
//! from a clone. Every check must then pass, and each way the evidence can be wrong must
//! fail (or not run) the check named for it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use chainlock_attest::evaluate::attestation_digest;
use chainlock_attest::rebuild::{attest, RebuildSpec, DEFAULT_BUILD_TIMEOUT};
use chainlock_attest::sandbox::Sandbox;
use chainlock_attest::{dsse, BuilderKey};
use chainlock_protocol::bsm::StatementKind;
use chainlock_protocol::hash::Digest;
use chainlock_protocol::keys::SecretKey;
use chainlock_protocol::policy::Policy;
use chainlock_protocol::record::{
    Artifact, Ecosystem, Genesis, ProtocolVersion, Record, Release, Source, EMPTY_TREE,
};
use chainlock_protocol::record_tx::{self, FeeBounds, RecordTxParams};
use chainlock_protocol::request::{Envelope, SigningRequest};
use chainlock_protocol::script::Script;
use chainlock_protocol::tx::{OutPoint, SpentOutput, Transaction, TxIn, TxOut, Txid};
use chainlock_protocol::verify::{
    verify_request, CheckId, Context, CustodyState, KnownRecord, Status,
};
use chainlock_review::evidence;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Maintainer",
            "-c",
            "user.email=m@example.org",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "tag.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_COMMITTER_DATE", "2026-11-01T12:00:00Z")
        .env("GIT_AUTHOR_DATE", "2026-11-01T12:00:00Z")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

struct Fixture {
    _dir: tempfile::TempDir,
    repo: std::path::PathBuf,
    base: String,
    head: String,
    builders: Vec<BuilderKey>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("pkg");
    std::fs::create_dir_all(repo.join("src")).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(
        repo.join("src/index.js"),
        "module.exports = (s, n) => s.padStart(n);\n",
    )
    .unwrap();
    std::fs::write(
        repo.join("build.sh"),
        "mkdir -p dist && cat src/*.js > dist/pkg.js\n",
    )
    .unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "1.0.0"]);
    git(&repo, &["tag", "v1.0.0"]);
    let base = git(&repo, &["rev-parse", "HEAD"]);
    std::fs::write(
        repo.join("src/index.js"),
        "module.exports = (s, n, c = ' ') => s.padStart(n, c);\n",
    )
    .unwrap();
    std::fs::write(repo.join("src/util.js"), "exports.id = (x) => x;\n").unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "1.1.0"]);
    git(&repo, &["tag", "v1.1.0"]);
    let head = git(&repo, &["rev-parse", "HEAD"]);
    let builders = (1..=3)
        .map(|i| BuilderKey::from_seed(&[0xb0 + i; 32]))
        .collect();
    Fixture {
        _dir: dir,
        repo,
        base,
        head,
        builders,
    }
}

fn rebuild(f: &Fixture, key: &BuilderKey, command: &str) -> Envelope {
    let spec = RebuildSpec {
        repository: format!("file://{}", f.repo.display()),
        commit: f.head.clone(),
        command: command.into(),
        artifact: "dist/pkg.js".into(),
        timeout: DEFAULT_BUILD_TIMEOUT,
        sandbox: Sandbox::default(),
    };
    attest(&spec, key).expect("rebuild and attest").0
}

fn maintainer(i: u8) -> SecretKey {
    SecretKey::from_bytes(&[i; 32]).unwrap()
}

fn policy(f: &Fixture) -> Policy {
    Policy::new(
        (1..=3).map(|i| maintainer(i).public_key()).collect(),
        2,
        f.builders.iter().map(|b| b.public_key().to_hex()).collect(),
        2,
        3600,
    )
    .unwrap()
}

/// The package's records as the co-signer knows them: genesis, then v1.0.0 at the base.
fn known_chain(f: &Fixture) -> Vec<KnownRecord> {
    let policy = policy(f);
    let genesis = Record::Genesis(Genesis {
        protocol: ProtocolVersion::V1,
        ecosystem: Ecosystem::Npm,
        package: "pad".into(),
        policy: policy.clone(),
    });
    let v100 = Record::Release(Release {
        protocol: ProtocolVersion::V1,
        ecosystem: Ecosystem::Npm,
        package: "pad".into(),
        version: "1.0.0".into(),
        source: Source {
            repository: format!("file://{}", f.repo.display()),
            tag: "v1.0.0".into(),
            commit: f.base.clone(),
            base_commit: EMPTY_TREE.into(),
        },
        artifact: Artifact {
            name: "pkg.js".into(),
            size: 60,
            sha256: Digest([0x10; 32]),
        },
        diff_digest: Digest([0x11; 32]),
        attestation_digest: Digest([0x12; 32]),
        policy_digest: policy.digest().unwrap(),
        previous: genesis.digest().unwrap(),
    });
    [genesis, v100]
        .into_iter()
        .map(|record| KnownRecord {
            digest: record.digest().unwrap(),
            record,
        })
        .collect()
}

/// The publisher's request for v1.1.0, relying on `attestations`.
fn request(f: &Fixture, attestations: Vec<Envelope>, relied_on: &[Envelope]) -> SigningRequest {
    let policy = policy(f);
    let artifact_sha = chainlock_attest::rebuild::sha256_file(&{
        // The publisher's own build of the artifact.
        let out = f.repo.join("dist/pkg.js");
        Command::new("sh")
            .arg("build.sh")
            .current_dir(&f.repo)
            .status()
            .unwrap();
        out
    })
    .unwrap();
    let digests: Vec<[u8; 32]> = relied_on.iter().map(|e| dsse::digest(e).unwrap()).collect();
    let record = Record::Release(Release {
        protocol: ProtocolVersion::V1,
        ecosystem: Ecosystem::Npm,
        package: "pad".into(),
        version: "1.1.0".into(),
        source: Source {
            repository: format!("file://{}", f.repo.display()),
            tag: "v1.1.0".into(),
            commit: f.head.clone(),
            base_commit: f.base.clone(),
        },
        artifact: Artifact {
            name: "pkg.js".into(),
            size: 70,
            sha256: Digest(artifact_sha),
        },
        diff_digest: Digest(
            chainlock_diff::diff_digest(&f.repo, Some(&f.base), &f.head)
                .unwrap()
                .digest,
        ),
        attestation_digest: Digest(attestation_digest(&digests)),
        policy_digest: policy.digest().unwrap(),
        previous: known_chain(f)[1].digest,
    });
    let custody = policy.custody_script().unwrap();
    let funding = Transaction {
        version: 1,
        inputs: vec![TxIn {
            prevout: OutPoint {
                txid: Txid([0x11; 32]),
                vout: 0,
            },
            script_sig: Script::default(),
            sequence: 0xffff_ffff,
        }],
        outputs: vec![TxOut {
            value: 5_000,
            script_pubkey: custody.clone(),
        }],
        lock_time: 0,
    };
    let rtx = record_tx::build(&RecordTxParams {
        custody_outpoint: OutPoint {
            txid: funding.txid(),
            vout: 0,
        },
        spent: SpentOutput {
            script_pubkey: custody.clone(),
            value: 5_000,
        },
        record_digest: record.digest().unwrap(),
        change_pubkey_hash: Some(maintainer(1).public_key().hash160()),
        fee_sat_per_kb: 100,
    })
    .unwrap();
    let mut req = SigningRequest::new(
        record,
        policy,
        attestations,
        &rtx,
        &funding,
        1_799_990_000,
        1_800_100_000,
        maintainer(1).public_key(),
    )
    .unwrap();
    let id = req.id().unwrap();
    req.signature = Some(maintainer(1).sign_statement(StatementKind::Request, &id.0));
    req
}

/// What the co-signer's machine knows: the chain above, the custody output unspent, no
/// final and no rejection.
fn ctx(f: &Fixture, req: &SigningRequest) -> Context {
    Context {
        now: 1_800_000_000,
        trusted_policy: Some(req.policy.digest().unwrap()),
        fee_bounds: FeeBounds::default(),
        record_chain: Some(known_chain(f)),
        custody: Some((
            Transaction::from_hex(&req.transaction).unwrap().inputs[0].prevout,
            CustodyState::Unspent,
        )),
        finalized: Some(false),
        my_rejection: Some(None),
    }
}

const BUILD: &str = "sh build.sh";

#[test]
fn real_rebuilds_and_a_clone_make_a_request_ready_to_sign() {
    let f = fixture();
    let a = rebuild(&f, &f.builders[0], BUILD);
    let b = rebuild(&f, &f.builders[1], BUILD);
    // The third builder's build injects a file into the artifact: it disagrees.
    let c = rebuild(
        &f,
        &f.builders[2],
        "sh build.sh && echo 'require(\"child_process\")' >> dist/pkg.js",
    );
    let req = request(&f, vec![a.clone(), b.clone(), c], &[a, b]);
    let mut v = verify_request(&req, &ctx(&f, &req));
    let ev = evidence::complete(&req, &mut v, Some(&f.repo));
    assert!(v.report().ready_to_sign(), "{}", v.report());
    assert!(v.ready_to_sign().is_some());
    let builders = ev.builders.unwrap();
    assert_eq!(builders.agreeing.len(), 2);
    assert_eq!(builders.disagreeing.len(), 1);
    let detail = v.report().get(CheckId::BuilderAgreement).unwrap().detail();
    assert!(
        detail.contains("2 of the 3 trusted builders agree") && detail.contains("got"),
        "{detail}"
    );
    assert_eq!(ev.diff_digest.unwrap().entries, 2);
}

#[test]
fn one_agreeing_builder_is_below_the_minimum() {
    let f = fixture();
    let a = rebuild(&f, &f.builders[0], BUILD);
    // The same builder twice still counts once.
    let req = request(&f, vec![a.clone(), a.clone()], &[a]);
    let mut v = verify_request(&req, &ctx(&f, &req));
    evidence::complete(&req, &mut v, Some(&f.repo));
    let c = v.report().get(CheckId::BuilderAgreement).unwrap();
    assert_eq!(c.status(), Status::Failed, "{}", c.detail());
    assert!(v.ready_to_sign().is_none());
}

#[test]
fn a_request_flooded_with_attestations_is_refused_without_checking_them() {
    let f = fixture();
    let a = rebuild(&f, &f.builders[0], BUILD);
    let b = rebuild(&f, &f.builders[1], BUILD);
    let mut flood = vec![a.clone(); evidence::MAX_ATTESTATIONS];
    flood.push(b.clone());
    let req = request(&f, flood, &[a, b]);
    let mut v = verify_request(&req, &ctx(&f, &req));
    let ev = evidence::complete(&req, &mut v, Some(&f.repo));
    let c = v.report().get(CheckId::BuilderAgreement).unwrap();
    assert_eq!(c.status(), Status::Failed, "{}", c.detail());
    assert!(c.detail().contains("257 attestations"), "{}", c.detail());
    assert!(ev.builders.is_none());
    assert!(v.ready_to_sign().is_none());
}

#[test]
fn a_moved_tag_or_another_history_fails_the_diff_check() {
    let f = fixture();
    let a = rebuild(&f, &f.builders[0], BUILD);
    let b = rebuild(&f, &f.builders[1], BUILD);
    let req = request(&f, vec![a.clone(), b.clone()], &[a, b]);

    // The co-signer's clone has the tag somewhere else: refuse.
    let clone = f._dir.path().join("clone");
    git(
        f._dir.path(),
        &[
            "clone",
            "-q",
            f.repo.to_str().unwrap(),
            clone.to_str().unwrap(),
        ],
    );
    git(&clone, &["tag", "-f", "v1.1.0", &f.base]);
    let mut v = verify_request(&req, &ctx(&f, &req));
    evidence::complete(&req, &mut v, Some(&clone));
    let c = v.report().get(CheckId::DiffDigest).unwrap();
    assert_eq!(c.status(), Status::Failed);
    assert!(
        c.detail().contains("tag v1.1.0 points to"),
        "{}",
        c.detail()
    );

    // A record whose diff digest is not the range's: refuse.
    let mut edited = req.clone();
    if let Record::Release(r) = &mut edited.record {
        r.diff_digest = Digest([0x01; 32]);
    }
    let mut v = verify_request(&edited, &ctx(&f, &edited));
    evidence::complete(&edited, &mut v, Some(&f.repo));
    assert_eq!(
        v.report().get(CheckId::DiffDigest).unwrap().status(),
        Status::Failed
    );
}

#[test]
fn a_clone_without_the_commit_or_no_clone_means_not_run() {
    let f = fixture();
    let a = rebuild(&f, &f.builders[0], BUILD);
    let b = rebuild(&f, &f.builders[1], BUILD);
    let req = request(&f, vec![a.clone(), b.clone()], &[a, b]);
    let empty = f._dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    git(&empty, &["init", "-q"]);
    let mut v = verify_request(&req, &ctx(&f, &req));
    evidence::complete(&req, &mut v, Some(&empty));
    let c = v.report().get(CheckId::DiffDigest).unwrap();
    assert_eq!(c.status(), Status::NotRun);
    assert!(c.detail().contains("git fetch --tags"), "{}", c.detail());
    let mut v = verify_request(&req, &ctx(&f, &req));
    evidence::complete(&req, &mut v, None);
    assert_eq!(
        v.report().get(CheckId::DiffDigest).unwrap().status(),
        Status::NotRun
    );
    assert!(!v.report().ready_to_sign());
}

/// The gate after a cancel: whichever stage the cancel stopped, even after every file and
/// envelope was checked, the verification left behind has the diff digest NOT RUN and the
/// builders FAILED, and hands out nothing to sign; the same request run whole is ready.
#[test]
fn a_cancelled_evidence_computation_can_never_pass_the_gate() {
    use chainlock_diff::Cancel;
    use evidence::{Progress, Stage};

    let f = fixture();
    let a = rebuild(&f, &f.builders[0], BUILD);
    let b = rebuild(&f, &f.builders[1], BUILD);
    let req = request(&f, vec![a.clone(), b.clone()], &[a, b]);

    // Each stop point: (stage, done) at which the progress callback presses Cancel.
    let stops = [
        (Stage::DiffDigest, 1), // mid-way through the digest
        (Stage::DiffDigest, 2), // the digest complete, before the builders
        (Stage::Builders, 0),   // before the first envelope
        (Stage::Builders, 2),   // every envelope checked: the last moment
    ];
    for (stage, at) in stops {
        let mut v = verify_request(&req, &ctx(&f, &req));
        let cancel = Cancel::new();
        let mut heard: Vec<Progress> = Vec::new();
        let result = evidence::complete_cancellable(
            &req,
            &mut v,
            Some(&f.repo),
            &cancel,
            &mut |p: Progress| {
                heard.push(p);
                if p.stage == stage && p.done == at {
                    cancel.cancel();
                }
            },
        );
        assert!(
            matches!(result, Err(chainlock_review::Error::Cancelled)),
            "stopped at {stage:?} {at}: {:?}",
            result.map(|e| e.diff_digest)
        );
        assert!(heard.iter().any(|p| p.stage == stage && p.done == at));
        assert!(
            v.ready_to_sign().is_none(),
            "a cancel at {stage:?} {at} handed out a ReadyToSign"
        );
        assert!(!v.report().ready_to_sign(), "{}", v.report());
        let diff = v.report().get(CheckId::DiffDigest).unwrap();
        assert_eq!(diff.status(), Status::NotRun, "{}", diff.detail());
        assert!(diff.detail().contains("cancelled"), "{}", diff.detail());
        let builders = v.report().get(CheckId::BuilderAgreement).unwrap();
        assert_eq!(builders.status(), Status::Failed, "{}", builders.detail());
    }

    // Whole, the same request passes, hearing every stage to its end.
    let mut v = verify_request(&req, &ctx(&f, &req));
    let mut heard: Vec<Progress> = Vec::new();
    let ev = evidence::complete_cancellable(
        &req,
        &mut v,
        Some(&f.repo),
        &Cancel::new(),
        &mut |p: Progress| heard.push(p),
    )
    .unwrap();
    assert!(v.ready_to_sign().is_some(), "{}", v.report());
    assert_eq!(ev.diff_digest.unwrap().entries, 2);
    assert_eq!(
        heard,
        [
            Progress {
                stage: Stage::DiffDigest,
                done: 1,
                total: 2
            },
            Progress {
                stage: Stage::DiffDigest,
                done: 2,
                total: 2
            },
            Progress {
                stage: Stage::Builders,
                done: 0,
                total: 2
            },
            Progress {
                stage: Stage::Builders,
                done: 1,
                total: 2
            },
            Progress {
                stage: Stage::Builders,
                done: 2,
                total: 2
            },
        ]
    );
}
