//! The policy evaluation over envelopes made by real keys: agreement by distinct trusted key,
//! and every way an envelope can fail to count.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic

use base64ct::{Base64, Encoding};
use chainlock_attest::dsse::{self, Envelope, PAYLOAD_TYPE};
use chainlock_attest::evaluate::{attestation_digest, candidates, EnvelopeOutcome, Verdict};
use chainlock_attest::statement::{RebuildFacts, Statement};
use chainlock_attest::{evaluate, BuilderKey, EnvelopeInput, Error};
use chainlock_protocol::keys::SecretKey;
use chainlock_protocol::policy::Policy;

const COMMIT: &str = "1111111111111111111111111111111111111111";
const OTHER_COMMIT: &str = "2222222222222222222222222222222222222222";

fn sha(byte: u8) -> String {
    hex::encode([byte; 32])
}

fn builder(i: u8) -> BuilderKey {
    BuilderKey::from_seed(&[i; 32])
}

fn policy(trusted: &[u8], min_builders: u32) -> Policy {
    let maintainers = (1..=3u8)
        .map(|i| SecretKey::from_bytes(&[i; 32]).unwrap().public_key())
        .collect();
    let builders = trusted
        .iter()
        .map(|i| builder(*i).public_key().to_hex())
        .collect();
    Policy::new(maintainers, 2, builders, min_builders, 86_400).unwrap()
}

fn facts(commit: &str, artifact: u8, command: &str) -> RebuildFacts {
    RebuildFacts {
        repository: "file:///srv/pkg.git".into(),
        commit: commit.into(),
        command: command.into(),
        artifact_glob: "*.tgz".into(),
        artifact_name: "pkg-1.0.0.tgz".into(),
        artifact_sha256: [artifact; 32],
        source_date_epoch: 1_700_000_000,
    }
}

fn attestation(key: u8, commit: &str, artifact: u8) -> Envelope {
    let k = builder(key);
    let payload = Statement::for_rebuild(&facts(commit, artifact, "npm pack"), &k.public_key())
        .to_payload()
        .unwrap();
    dsse::sign(PAYLOAD_TYPE, &payload, &k)
}

fn input(label: &str, e: Envelope) -> EnvelopeInput {
    EnvelopeInput::parsed(label, e)
}

fn outcome<'a>(report: &'a chainlock_attest::BuilderReport, label: &str) -> &'a EnvelopeOutcome {
    report.envelopes.iter().find(|o| o.label == label).unwrap()
}

#[test]
fn two_trusted_builders_agree_and_a_third_disagrees() {
    let inputs = vec![
        input("a", attestation(1, COMMIT, 0xaa)),
        input("b", attestation(2, COMMIT, 0xaa)),
        input("c", attestation(3, COMMIT, 0xcc)),
    ];
    let report = evaluate(&policy(&[1, 2, 3], 2), &inputs, COMMIT, &sha(0xaa)).unwrap();
    assert!(report.minimum_met && report.passes());
    assert_eq!(report.agreeing.len(), 2);
    assert_eq!(report.disagreeing.len(), 1);
    assert_eq!(
        report.disagreeing[0].key_id,
        builder(3).public_key().key_id()
    );
    assert_eq!(report.disagreeing[0].artifact_sha256, vec![sha(0xcc)]);
    assert_eq!(outcome(&report, "c").verdict, Verdict::Disagrees);
    assert!(outcome(&report, "c").detail.contains(&sha(0xcc)));

    // The attestation digest: SHA-256 over the sorted canonical-JSON digests of a and b.
    let mut digests = [
        dsse::digest(&attestation(1, COMMIT, 0xaa)).unwrap(),
        dsse::digest(&attestation(2, COMMIT, 0xaa)).unwrap(),
    ];
    digests.sort();
    let expected = chainlock_protocol::hash::sha256(&digests.concat());
    assert_eq!(
        report.attestation_digest.as_deref(),
        Some(hex::encode(expected).as_str())
    );
    assert_eq!(
        report.relied_on,
        digests.iter().map(hex::encode).collect::<Vec<_>>()
    );

    // With three required, two agreeing builders are not enough.
    let strict = evaluate(&policy(&[1, 2, 3], 3), &inputs, COMMIT, &sha(0xaa)).unwrap();
    assert!(!strict.minimum_met && !strict.passes());
}

#[test]
fn digest_does_not_depend_on_order_or_repeats() {
    let a = attestation(1, COMMIT, 0xaa);
    let b = attestation(2, COMMIT, 0xaa);
    let p = policy(&[1, 2], 2);
    let one = evaluate(
        &p,
        &[input("a", a.clone()), input("b", b.clone())],
        COMMIT,
        &sha(0xaa),
    )
    .unwrap();
    let two = evaluate(
        &p,
        &[
            input("b", b.clone()),
            input("a", a.clone()),
            input("a again", a.clone()),
        ],
        COMMIT,
        &sha(0xaa),
    )
    .unwrap();
    assert_eq!(one.attestation_digest, two.attestation_digest);
    assert_eq!(
        attestation_digest(&[[1; 32], [0; 32]]),
        attestation_digest(&[[0; 32], [1; 32], [1; 32]])
    );
}

/// Regression guard for GHSA-r7vq-6425-j94w: one key's envelopes must count once.
#[test]
fn a_builder_counts_once_however_many_envelopes_it_signs() {
    let k = builder(1);
    let resigned = {
        let payload =
            Statement::for_rebuild(&facts(COMMIT, 0xaa, "npm pack --silent"), &k.public_key())
                .to_payload()
                .unwrap();
        dsse::sign(PAYLOAD_TYPE, &payload, &k)
    };
    let inputs = vec![
        input("first", attestation(1, COMMIT, 0xaa)),
        input("same again", attestation(1, COMMIT, 0xaa)),
        input("re-signed", resigned),
    ];
    let report = evaluate(&policy(&[1, 2], 2), &inputs, COMMIT, &sha(0xaa)).unwrap();
    assert_eq!(report.agreeing.len(), 1);
    assert_eq!(report.agreeing[0].envelopes, vec![0, 1, 2]);
    assert!(!report.minimum_met);
    assert_eq!(outcome(&report, "first").verdict, Verdict::Agrees);
    assert_eq!(outcome(&report, "same again").verdict, Verdict::Duplicate);
    assert_eq!(outcome(&report, "re-signed").verdict, Verdict::Duplicate);
    assert_eq!(report.relied_on.len(), 1);
}

#[test]
fn a_builder_attesting_two_artifacts_counts_for_neither() {
    let inputs = vec![
        input("a1", attestation(1, COMMIT, 0xaa)),
        input("a2", attestation(1, COMMIT, 0xbb)),
        input("b", attestation(2, COMMIT, 0xaa)),
    ];
    let report = evaluate(&policy(&[1, 2], 1), &inputs, COMMIT, &sha(0xaa)).unwrap();
    assert_eq!(report.agreeing.len(), 1);
    assert_eq!(report.agreeing[0].key_id, builder(2).public_key().key_id());
    assert_eq!(
        report.disagreeing[0].artifact_sha256,
        vec![sha(0xaa), sha(0xbb)]
    );
    assert_eq!(outcome(&report, "a1").verdict, Verdict::Disagrees);
    assert!(outcome(&report, "a1").detail.contains("counts for none"));
}

#[test]
fn untrusted_keys_are_reported_and_never_counted() {
    let inputs = vec![
        input("trusted", attestation(1, COMMIT, 0xaa)),
        input("stranger", attestation(9, COMMIT, 0xaa)),
    ];
    let report = evaluate(&policy(&[1, 2], 2), &inputs, COMMIT, &sha(0xaa)).unwrap();
    assert_eq!(report.agreeing.len(), 1);
    assert_eq!(report.untrusted, vec![1]);
    assert!(report.invalid.is_empty());
    assert!(!report.minimum_met);
    let o = outcome(&report, "stranger");
    assert_eq!(o.verdict, Verdict::Untrusted);
    assert_eq!(
        o.key_id.as_deref(),
        Some(builder(9).public_key().key_id().as_str())
    );
}

#[test]
fn tampered_and_malformed_envelopes_are_invalid() {
    let tamper = |mut e: Envelope| {
        let mut statement: serde_json::Value =
            serde_json::from_slice(&dsse::payload_bytes(&e).unwrap()).unwrap();
        statement["predicate"]["buildDefinition"]["externalParameters"]["command"] =
            serde_json::json!("npm pack; curl evil");
        e.payload = Base64::encode_string(statement.to_string().as_bytes());
        e
    };
    let tampered = tamper(attestation(1, COMMIT, 0xaa));
    let tampered_untrusted = tamper(attestation(9, COMMIT, 0xaa));

    let wrong_type = {
        let k = builder(2);
        let payload = Statement::for_rebuild(&facts(COMMIT, 0xaa, "npm pack"), &k.public_key())
            .to_payload()
            .unwrap();
        dsse::sign("application/json", &payload, &k)
    };
    // Signed by trusted key 2, but naming key 1 as its builder.
    let impostor = {
        let payload =
            Statement::for_rebuild(&facts(COMMIT, 0xaa, "npm pack"), &builder(1).public_key())
                .to_payload()
                .unwrap();
        dsse::sign(PAYLOAD_TYPE, &payload, &builder(2))
    };
    let not_a_statement = dsse::sign(PAYLOAD_TYPE, b"{\"_type\":\"x\"}", &builder(2));
    let mut two_sigs = attestation(2, COMMIT, 0xaa);
    two_sigs
        .signatures
        .push(attestation(1, COMMIT, 0xaa).signatures[0].clone());

    let inputs = vec![
        input("tampered", tampered),
        input("tampered untrusted", tampered_untrusted),
        input("wrong type", wrong_type),
        input("impostor", impostor),
        input("not a statement", not_a_statement),
        input("two signatures", two_sigs),
        input("other commit", attestation(2, OTHER_COMMIT, 0xaa)),
        EnvelopeInput::from_bytes("garbage", b"{\"payloadType\": 3"),
        EnvelopeInput::from_bytes(
            "unknown field",
            br#"{"payloadType":"x","payload":"","signatures":[],"extra":1}"#,
        ),
    ];
    let report = evaluate(&policy(&[1, 2], 1), &inputs, COMMIT, &sha(0xaa)).unwrap();
    assert!(report.agreeing.is_empty());
    assert!(!report.passes());
    assert_eq!(report.invalid, (0..inputs.len()).collect::<Vec<_>>());
    let expect = [
        ("tampered", "altered or forged"),
        ("tampered untrusted", "altered or forged"),
        ("wrong type", "payloadType"),
        ("impostor", "names builder"),
        ("not a statement", "invalid statement"),
        ("two signatures", "exactly one signature"),
        ("other commit", OTHER_COMMIT),
        ("garbage", "not a DSSE envelope"),
        ("unknown field", "unknown field"),
    ];
    for (label, words) in expect {
        let o = outcome(&report, label);
        assert_eq!(o.verdict, Verdict::Invalid, "{label}");
        assert!(o.detail.contains(words), "{label}: {}", o.detail);
    }
    assert_eq!(report.attestation_digest, None);
}

#[test]
fn malformed_release_parameters_are_errors() {
    let p = policy(&[1], 1);
    assert!(matches!(
        evaluate(&p, &[], "abc", &sha(1)),
        Err(Error::Parameter { .. })
    ));
    assert!(matches!(
        evaluate(&p, &[], COMMIT, &sha(0xab).to_uppercase()),
        Err(Error::Parameter { .. })
    ));
    let report = evaluate(&p, &[], COMMIT, &sha(1)).unwrap();
    assert!(!report.minimum_met);
}

#[test]
fn candidates_rank_by_distinct_trusted_builders() {
    let inputs = vec![
        input("a", attestation(1, COMMIT, 0xaa)),
        input("a again", attestation(1, COMMIT, 0xaa)),
        input("b", attestation(2, COMMIT, 0xbb)),
        input("c", attestation(3, COMMIT, 0xbb)),
        input("stranger", attestation(9, COMMIT, 0xaa)),
    ];
    let c = candidates(&policy(&[1, 2, 3], 2), &inputs).unwrap();
    assert_eq!(c.len(), 2);
    assert_eq!(
        (c[0].artifact_sha256.as_str(), c[0].builders),
        (sha(0xbb).as_str(), 2)
    );
    assert_eq!(
        (c[1].artifact_sha256.as_str(), c[1].builders),
        (sha(0xaa).as_str(), 1)
    );
}

#[test]
fn json_report_names_every_category() {
    let inputs = vec![
        input("a", attestation(1, COMMIT, 0xaa)),
        input("s", attestation(9, COMMIT, 0xaa)),
    ];
    let report = evaluate(&policy(&[1], 1), &inputs, COMMIT, &sha(0xaa)).unwrap();
    let v = serde_json::to_value(&report).unwrap();
    for field in [
        "agreeing",
        "disagreeing",
        "untrusted",
        "invalid",
        "minimum_met",
        "attestation_digest",
        "envelopes",
    ] {
        assert!(v.get(field).is_some(), "{field}");
    }
    assert_eq!(v["envelopes"][1]["verdict"], "untrusted");
    assert_eq!(v["minimum_met"], true);
    let _ = chainlock_attest::evaluate::trusted_keys(&policy(&[1], 1)).unwrap();
}

#[test]
fn the_release_is_chosen_by_most_trusted_builders_and_a_tie_is_an_error() {
    use chainlock_attest::{choose_release, Release};
    let p = policy(&[1, 2, 3], 2);
    let inputs = vec![
        input("a", attestation(1, COMMIT, 0xaa)),
        input("b", attestation(2, COMMIT, 0xaa)),
        input("c", attestation(3, COMMIT, 0xcc)),
    ];
    let chosen = choose_release(&p, &inputs, None, None).unwrap();
    assert_eq!(
        chosen,
        Release {
            commit: COMMIT.into(),
            artifact_sha256: sha(0xaa)
        }
    );
    // Asking for the minority artifact evaluates that one.
    let other = choose_release(&p, &inputs, None, Some(&sha(0xcc))).unwrap();
    assert_eq!(other.artifact_sha256, sha(0xcc));
    // One against one: no pick.
    let split = choose_release(&p, &inputs[1..], None, None).unwrap_err();
    assert!(
        matches!(split, Error::SplitRelease { count: 2, .. }),
        "{split}"
    );
    // Nobody trusted names a release.
    let none = choose_release(&policy(&[4], 1), &inputs, None, None).unwrap_err();
    assert!(matches!(none, Error::NoRelease), "{none}");
}

#[test]
fn without_a_policy_each_envelope_is_judged_on_its_own() {
    use chainlock_attest::check_without_policy;
    // Signed by key 2 but naming key 1 as its builder.
    let payload =
        Statement::for_rebuild(&facts(COMMIT, 0xaa, "npm pack"), &builder(1).public_key())
            .to_payload()
            .unwrap();
    let tampered = dsse::sign(PAYLOAD_TYPE, &payload, &builder(2));
    let inputs = vec![
        input("good", attestation(1, COMMIT, 0xaa)),
        input("other-commit", attestation(3, OTHER_COMMIT, 0xaa)),
        input("tampered", tampered),
    ];
    let checks = check_without_policy(&inputs, Some(COMMIT), None);
    assert!(checks[0].valid);
    assert_eq!(
        checks[0].builder.as_deref(),
        Some(builder(1).public_key().to_hex().as_str())
    );
    assert!(!checks[1].valid);
    assert!(checks[1].problem.as_deref().unwrap().contains(OTHER_COMMIT));
    assert!(!checks[2].valid && checks[2].problem.is_some());
    assert!(check_without_policy(&inputs[..2], None, None)
        .iter()
        .all(|c| c.valid));
}

#[test]
fn an_evaluation_stopped_between_envelopes_reports_nothing() {
    let inputs = vec![
        input("a", attestation(1, COMMIT, 0xaa)),
        input("b", attestation(2, COMMIT, 0xaa)),
        input("c", attestation(3, COMMIT, 0xbb)),
    ];
    let p = policy(&[1, 2, 3], 2);
    let mut heard = Vec::new();
    let stopped = chainlock_attest::evaluate_with(&p, &inputs, COMMIT, &sha(0xaa), |done, all| {
        heard.push((done, all));
        done < 2
    });
    assert!(matches!(stopped, Err(Error::Stopped)), "{stopped:?}");
    assert_eq!(heard, [(0, 3), (1, 3), (2, 3)], "stopped before the third");

    // Run to the end, it hears every envelope and reports what `evaluate` reports.
    let mut heard = Vec::new();
    let whole = chainlock_attest::evaluate_with(&p, &inputs, COMMIT, &sha(0xaa), |done, all| {
        heard.push((done, all));
        true
    })
    .unwrap();
    assert_eq!(heard, [(0, 3), (1, 3), (2, 3), (3, 3)]);
    let plain = evaluate(&p, &inputs, COMMIT, &sha(0xaa)).unwrap();
    assert_eq!(
        serde_json::to_value(&whole).unwrap(),
        serde_json::to_value(&plain).unwrap()
    );
    assert_eq!(whole.agreeing.len(), 2);
}
