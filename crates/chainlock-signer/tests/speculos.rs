//! The Ledger signer against the real Bitcoin Cash app (2.4.6, built from Ledger's sources)
//! running in the Speculos emulator, with the screens read and the buttons pressed through
//! Speculos's REST API, and every result judged by @bsv/sdk (`tests/judge`).
//!
//! One test walks through the scenarios in order, because libdbus reads the session bus
//! address once per process (the co-signing keychain key lives in a private Secret Service)
//! and because two emulators at once would only compete for the machine's cores:
//! - keys at the ChainLock path and at a BIP44 path equal @bsv/sdk's derivation from the
//!   emulator's seed;
//! - a record transaction (custody input, commitment, change) of a signing request that
//!   passed `verify_request` (the signing gate), signed with a trusted input:
//!   the screens are exactly those `ledger::screens` and the README announce (no "unverified
//!   inputs" warning), the signature verifies, and with a keychain co-signature the spend
//!   passes the @bsv/sdk interpreter;
//! - request and rejection statements, verified as Bitcoin Signed Messages by @bsv/sdk;
//! - the user rejecting on the device (transaction and statement), then retrying;
//! - the emulator stopped mid-exchange ("unplugged"), then a retry on a fresh one.
//!
//! `CHAINLOCK_RECORD_LEDGER=1` writes the exchanges to `tests/data/ledger/speculos/`, which
//! `tests/ledger.rs` replays without the emulator. Needs `scripts/setup` (speculos 0.27.1 in
//! a virtual environment, qemu-user-static, gnome-keyring, node and `npm ci` in tests/judge);
//! without speculos the test says so loudly and passes (under `CI=true` it fails).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chainlock_protocol::bsm::{self, StatementKind};
use chainlock_protocol::hash::{sha256, Digest};
use chainlock_protocol::keys::{PublicKey, SecretKey};
use chainlock_protocol::policy::Policy as ReleasePolicy;
use chainlock_protocol::record::{Artifact, Ecosystem, ProtocolVersion, Record, Release, Source};
use chainlock_protocol::record_tx::{self, FeeBounds, RecordTxParams};
use chainlock_protocol::request::{CustodyOutput, SigningRequest};
use chainlock_protocol::script::Script;
use chainlock_protocol::tx::{OutPoint, SpentOutput, Transaction, TxIn, TxOut, Txid};
use chainlock_protocol::verify::{
    verify_request, BuilderEvidence, Context, CustodyState, DiffEvidence, KnownRecord, ReadyToSign,
};
use chainlock_signer::keychain::Keychain;
use chainlock_signer::ledger::screens::{self, normalize_shown, squash};
use chainlock_signer::ledger::speculos::{
    self, Operator, Policy, Recorder, Speculos, DEFAULT_MNEMONIC,
};
use chainlock_signer::ledger::transport::{Exchange, TcpTransport, DEFAULT_TCP_TIMEOUT};
use chainlock_signer::ledger::{DerivationPath, LedgerSigner};
use chainlock_signer::testing::SecretServiceSession;
use chainlock_signer::{OpenOptions, Signer};
use serde_json::{json, Value};

type Ledger = LedgerSigner<Recorder<TcpTransport>>;

// ---------------------------------------------------------------------------------------
// What gets signed: the one place that builds it.
// ---------------------------------------------------------------------------------------

/// What a signer is handed: a request that passed verification on this machine. The one
/// place that builds it: [`request`] makes a signing request the way a publisher does, and
/// `verify_request` with honest diff and builder evidence hands out the `ReadyToSign`.
fn record(keys: &[PublicKey], publisher: &SecretKey, variant: u8) -> ReadyToSign {
    let req = request(keys, publisher, variant);
    let mut verification = verify_request(&req, &context(&req, keys));
    let Record::Release(release) = &req.record else {
        unreachable!("request() makes a release")
    };
    verification.record_diff_digest(DiffEvidence::Computed {
        digest: release.diff_digest,
        entries: 3,
    });
    verification.record_builders(BuilderEvidence::Evaluated {
        commit: release.source.commit.clone(),
        artifact_sha256: release.artifact.sha256,
        agreeing_keys: builders()[..2].to_vec(),
        attestation_digest: Some(release.attestation_digest),
        invalid: 0,
        remarks: String::new(),
    });
    verification
        .ready_to_sign()
        .unwrap_or_else(|| panic!("the request is not ready:\n{}", verification.report()))
}

/// Signs the custody input with the Ledger, through the signing gate and the checked wrapper.
fn ledger_sign(signer: &mut Ledger, what: &ReadyToSign) -> chainlock_signer::Result<Vec<u8>> {
    chainlock_signer::sign_input(signer, what)
}

/// Signs the custody input with any other signer, through the checked wrapper.
fn cosign(signer: &mut dyn Signer, what: &ReadyToSign) -> chainlock_signer::Result<Vec<u8>> {
    chainlock_signer::sign_input(signer, what)
}

/// Fixed "now" of the requests (2026-11-21T00:00:00Z).
const NOW: u64 = 1_795_219_200;

/// Trusted builders: real Ed25519 points (RFC 8032's test keys 1 to 3).
fn builders() -> Vec<String> {
    vec![
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c".into(),
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a".into(),
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025".into(),
    ]
}

fn policy(keys: &[PublicKey]) -> ReleasePolicy {
    ReleasePolicy::new(keys.to_vec(), 2, builders(), 2, 86_400).unwrap()
}

/// The package's record chain as the co-signer knows it: genesis, then release 1.3.0.
fn known_chain(policy: &ReleasePolicy) -> Vec<KnownRecord> {
    chainlock_protocol::testing::sample_record_chain(policy).unwrap()
}

/// A signing request for release 1.4.0 (its artifact hash varied by `variant`), published by
/// `publisher`: a funding transaction whose output 1 is the policy's custody, and the record
/// transaction spending it (commitment, P2PKH change to the publisher).
fn request(keys: &[PublicKey], publisher: &SecretKey, variant: u8) -> SigningRequest {
    let policy = policy(keys);
    let custody = policy.custody_script().unwrap();
    let funding = Transaction {
        version: 1,
        inputs: vec![TxIn {
            prevout: OutPoint {
                txid: Txid([0x55; 32]),
                vout: variant.into(),
            },
            script_sig: Script::from(vec![0x51]),
            sequence: 0xffff_ffff,
        }],
        outputs: vec![
            TxOut {
                value: 1_234,
                script_pubkey: Script::p2pkh(&[0x33; 20]),
            },
            TxOut {
                value: 20_000,
                script_pubkey: custody.clone(),
            },
        ],
        lock_time: 0,
    };
    let record = Record::Release(Release {
        protocol: ProtocolVersion::V1,
        ecosystem: Ecosystem::Npm,
        package: "left-pad".into(),
        version: "1.4.0".into(),
        source: Source {
            repository: "https://example.org/left-pad.git".into(),
            tag: "v1.4.0".into(),
            commit: "5f1c2a9e8b7d6c5b4a39281706f5e4d3c2b1a098".into(),
            base_commit: "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567".into(),
        },
        artifact: Artifact {
            name: "left-pad-1.4.0.tgz".into(),
            size: 2817,
            sha256: Digest([variant; 32]),
        },
        diff_digest: Digest([0xd1; 32]),
        attestation_digest: Digest([0xa1; 32]),
        policy_digest: policy.digest().unwrap(),
        previous: known_chain(&policy)[1].digest,
    });
    let tx = record_tx::build(&RecordTxParams {
        custody_outpoint: OutPoint {
            txid: funding.txid(),
            vout: 1,
        },
        spent: SpentOutput {
            script_pubkey: custody.clone(),
            value: 20_000,
        },
        record_digest: record.digest().unwrap(),
        change_pubkey_hash: Some(publisher.public_key().hash160()),
        fee_sat_per_kb: 100,
    })
    .unwrap();
    let mut req = SigningRequest {
        protocol: ProtocolVersion::V1,
        record,
        policy,
        attestations: vec![],
        transaction: tx.tx().to_hex(),
        custody: CustodyOutput {
            funding_tx: funding.to_hex(),
            vout: 1,
            locking_script: custody.to_hex(),
            satoshis: 20_000,
        },
        created_at: NOW - 600,
        expires_at: NOW + 6 * 86_400,
        publisher: publisher.public_key(),
        signature: None,
    };
    let id = req.id().unwrap();
    req.signature = Some(publisher.sign_statement(StatementKind::Request, &id.0));
    req
}

/// What the co-signer's machine knows: the chain, the custody output unspent, no final, no
/// rejection of its own.
fn context(req: &SigningRequest, keys: &[PublicKey]) -> Context {
    let policy = policy(keys);
    let outpoint = Transaction::from_hex(&req.transaction).unwrap().inputs[0].prevout;
    Context {
        now: NOW,
        trusted_policy: Some(policy.digest().unwrap()),
        fee_bounds: FeeBounds::default(),
        record_chain: Some(known_chain(&policy)),
        custody: Some((outpoint, CustodyState::Unspent)),
        finalized: Some(false),
        my_rejection: Some(None),
    }
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

const JUDGE_HINT: &str =
    "run `npm ci --prefix tests/judge` from the workspace root (needs node 18+ and npm)";

fn judge(script: &str, cases: Value) -> Vec<Value> {
    let dir = workspace().join("tests/judge");
    assert!(
        dir.join("node_modules/@bsv/sdk/package.json").is_file(),
        "@bsv/sdk is not installed: {JUDGE_HINT}"
    );
    let mut child = Command::new("node")
        .arg(dir.join(script))
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run node ({e}): {JUDGE_HINT}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(json!({ "cases": cases }).to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{script} failed");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["verdicts"].as_array().unwrap().clone()
}

fn path(text: &str) -> DerivationPath {
    DerivationPath::parse(text).unwrap()
}

/// Opens the Ledger signer at `path` over a fresh recorded connection to the emulator.
fn open(emu: &Speculos, path: &DerivationPath) -> (Ledger, Arc<Mutex<Vec<Exchange>>>) {
    let tcp = TcpTransport::connect(&emu.apdu_addr(), DEFAULT_TCP_TIMEOUT).unwrap();
    let (recorder, log) = Recorder::new(tcp);
    (
        LedgerSigner::open(recorder, path.clone(), false).unwrap(),
        log,
    )
}

/// Runs `f` while an operator plays `policy`; returns its result and the screens seen.
fn with_operator<R>(
    emu: &Speculos,
    policy: Policy,
    f: impl FnOnce() -> R,
) -> (R, Vec<Vec<String>>) {
    let operator: Operator = emu.operate(policy);
    let result = f();
    // Let the device return to its idle screen, so the next flow starts clean.
    std::thread::sleep(Duration::from_millis(300));
    (result, operator.finish())
}

fn assert_screens(shown: &[Vec<String>], expected: &[screens::Screen], what: &str) {
    let expected: Vec<String> = expected.iter().map(|s| squash(&s.text)).collect();
    assert_eq!(
        normalize_shown(shown),
        expected,
        "{what}: the device showed {shown:#?}"
    );
}

/// Writes a transcript under `tests/data/ledger/speculos/` when `CHAINLOCK_RECORD_LEDGER=1`.
fn save(name: &str, mut transcript: Value, log: &Arc<Mutex<Vec<Exchange>>>) {
    if std::env::var("CHAINLOCK_RECORD_LEDGER").as_deref() != Ok("1") {
        return;
    }
    let exchanges: Vec<Value> = log
        .lock()
        .unwrap()
        .iter()
        .map(|e| json!({"send": hex::encode(&e.send), "recv": hex::encode(&e.recv)}))
        .collect();
    transcript["source"] = json!(format!(
        "recorded from the Ledger Bitcoin Cash app 2.4.6 (shared/vectors/ledger/bitcoin_cash_nanosp.elf) in Speculos {} with its default seed, by crates/chainlock-signer/tests/speculos.rs",
        speculos::SPECULOS_VERSION
    ));
    transcript["exchanges"] = Value::Array(exchanges);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/ledger/speculos");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(format!("{name}.json")),
        serde_json::to_string_pretty(&transcript).unwrap() + "\n",
    )
    .unwrap();
}

/// The README's list of screens for `flow` (a fenced block after `<!-- ledger-screens:FLOW -->`),
/// each line cut before its comment (two spaces then `<-` or `[`).
fn readme_screens(flow: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let marker = format!("<!-- ledger-screens:{flow} -->");
    let start = readme
        .find(&marker)
        .unwrap_or_else(|| panic!("README.md has no {marker}"));
    let block = &readme[start..];
    let body = block.split("```").nth(1).unwrap();
    body.lines()
        .skip(1) // the fence's language tag
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cut = [l.find("  <-"), l.find("  [")]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(l.len());
            l[..cut].trim().to_string()
        })
        .collect()
}

/// An amount as the README writes it after `BCH `.
fn coins(satoshis: u64) -> String {
    screens::amount(satoshis)
        .trim_start_matches("BCH ")
        .to_string()
}

fn fill(lines: &[String], values: &[(&str, String)]) -> Vec<screens::Screen> {
    lines
        .iter()
        .map(|l| {
            let mut text = l.clone();
            for (placeholder, value) in values {
                text = text.replace(placeholder, value);
            }
            screens::Screen {
                text,
                action: screens::Action::Next,
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------------------

#[test]
fn the_real_bitcoin_cash_app_in_speculos() {
    let Some(binary) = speculos::speculos_or_skip() else {
        return;
    };
    // Resolved before the keychain session moves HOME.
    let binary = binary.canonicalize().unwrap();
    let session = SecretServiceSession::start();
    for (name, value) in session.envs() {
        std::env::set_var(name, value);
    }
    let started = Instant::now();
    let mut emu = Speculos::start(&binary);
    eprintln!(
        "starting Speculos until the app's idle screen: {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let default = DerivationPath::chainlock_default();
    let bip44 = path("m/44'/145'/0'/0/0");

    // --- Keys, against @bsv/sdk's derivation from the emulator's seed. ---
    let started = Instant::now();
    let (ledger, log) = open(&emu, &default);
    eprintln!(
        "opening the Ledger signer in Speculos (app check and public key, 2 APDUs): {:.3} s",
        started.elapsed().as_secs_f64()
    );
    let device_key = ledger.identity().public_key;
    save(
        "public-key",
        json!({"flow": "public_key", "path": default.to_string(), "result": device_key.to_hex()}),
        &log,
    );
    let (bip44_ledger, _) = open(&emu, &bip44);
    let derived = judge(
        "bip32-derive.mjs",
        json!([
            {"name": "chainlock", "mnemonic": DEFAULT_MNEMONIC, "path": default.to_string()},
            {"name": "bip44", "mnemonic": DEFAULT_MNEMONIC, "path": bip44.to_string()},
        ]),
    );
    assert_eq!(derived[0]["public_key"], device_key.to_hex(), "{derived:?}");
    assert_eq!(
        derived[1]["public_key"],
        bip44_ledger.identity().public_key.to_hex(),
        "{derived:?}"
    );
    assert_ne!(device_key, bip44_ledger.identity().public_key);
    drop((ledger, bip44_ledger));

    // --- The public API: `ledger://` over CHAINLOCK_LEDGER_TCP's option, the address shown. ---
    let options = OpenOptions {
        ledger_tcp: Some(emu.apdu_addr()),
        confirm_on_device: true,
        ..OpenOptions::default()
    };
    let (opened, shown) = with_operator(&emu, Policy::Approve, || {
        chainlock_signer::open("ledger://", &options)
    });
    let opened = opened.unwrap();
    assert_eq!(opened.identity().public_key, device_key);
    assert_eq!(opened.identity().uri, "ledger://m/45'/236'/0'/0/0");
    assert_screens(
        &shown,
        &screens::public_key(&default, &device_key),
        "confirm on device",
    );
    assert_screens(
        &shown,
        &fill(
            &readme_screens("public-key"),
            &[("<key address>", screens::p2pkh_address(&device_key))],
        ),
        "README's key confirmation screens",
    );
    drop(opened);

    // --- A keychain co-signer in the private Secret Service. ---
    let store = Keychain::new(Some(session.config_dir())).unwrap();
    let cosigner = store
        .import(SecretKey::from_bytes(&[7; 32]).unwrap(), "co-signer")
        .unwrap();
    let mut keychain = chainlock_signer::open(
        &cosigner.uri(),
        &OpenOptions {
            config_dir: Some(session.config_dir()),
            ..OpenOptions::default()
        },
    )
    .unwrap();
    let publisher = SecretKey::from_bytes(&[9; 32]).unwrap();
    let keys = [device_key, cosigner.public_key, publisher.public_key()];

    // --- A record transaction, approved on the device. ---
    let what = record(&keys, &publisher, 0x11);
    {
        // The device's own work without a user: the trusted input of the funding transaction.
        let tcp = TcpTransport::connect(&emu.apdu_addr(), DEFAULT_TCP_TIMEOUT).unwrap();
        let mut btchip = chainlock_signer::ledger::Btchip::new(tcp);
        let started = Instant::now();
        let vout = what.record_tx().custody_outpoint().vout;
        let trusted = btchip.trusted_input_of(what.funding_tx(), vout).unwrap();
        eprintln!(
            "GET_TRUSTED_INPUT in Speculos (funding transaction of {} bytes, no screens): {:.3} s",
            what.funding_tx().encode().len(),
            started.elapsed().as_secs_f64()
        );
        assert_eq!(trusted.amount, what.record_tx().spent().value);
    }
    let (mut ledger, log) = open(&emu, &default);
    log.lock().unwrap().clear();
    let started = Instant::now();
    let (signature, shown) =
        with_operator(&emu, Policy::Approve, || ledger_sign(&mut ledger, &what));
    let round_trip = started.elapsed();
    let signature = signature.unwrap();
    eprintln!(
        "signing round trip in Speculos (trusted input, {} APDUs, {} screens approved by the REST API): {:.2} s",
        log.lock().unwrap().len(),
        shown.len(),
        round_trip.as_secs_f64()
    );
    assert_screens(
        &shown,
        &screens::record_tx(what.record_tx(), &default),
        "record tx",
    );
    assert!(
        !shown
            .iter()
            .any(|s| squash(&s.concat()).contains("UpdateLedgerLive")),
        "the trusted input must spare the user the unverified-inputs warning: {shown:?}"
    );
    let fee = what.record_tx().fee();
    let change = what.record_tx().tx().outputs[1].clone();
    assert_screens(
        &shown,
        &fill(
            &readme_screens("record-tx"),
            &[
                ("<change address>", screens::address(&change.script_pubkey)),
                ("<change>", coins(change.value)),
                ("<fee>", coins(fee)),
            ],
        ),
        "README's record transaction screens",
    );
    assert!(
        !log.lock()
            .unwrap()
            .iter()
            .any(|e| e.send.windows(32).any(|w| w == what.record_tx().sighash())),
        "the device is never sent the digest"
    );
    assert!(
        log.lock()
            .unwrap()
            .iter()
            .any(|e| e.send[..2] == [0xe0, 0x42]),
        "the custody input went as a trusted input"
    );
    save(
        "record-tx",
        json!({
            "flow": "record_tx", "path": default.to_string(),
            "record_tx": what.record_tx().tx().to_hex(), "funding_tx": what.funding_tx().to_hex(),
            "spent": {"script": what.record_tx().spent().script_pubkey.to_hex(), "satoshis": what.record_tx().spent().value},
            "result": hex::encode(&signature), "screens": shown,
        }),
        &log,
    );
    // Combined with the keychain's signature, the spend passes the @bsv/sdk interpreter.
    let by_keychain = cosign(keychain.as_mut(), &what).unwrap();
    let combined =
        chainlock_signer::combine(what.record_tx(), &[signature.clone(), by_keychain]).unwrap();
    assert!(combined.signers.contains(&device_key));
    let spent = json!({"script": what.record_tx().spent().script_pubkey.to_hex(), "satoshis": what.record_tx().spent().value});
    let mut tampered = combined.tx.tx().clone();
    tampered.outputs[1].value -= 1;
    let verdicts = judge(
        "spend.mjs",
        json!([
            {"name": "ledger + keychain", "tx": combined.tx.tx().to_hex(), "input": 0, "spent": spent, "flags": "node"},
            {"name": "tampered change", "tx": tampered.to_hex(), "input": 0, "spent": spent, "flags": "node"},
        ]),
    );
    let valid: Vec<bool> = verdicts
        .iter()
        .map(|v| v["valid"].as_bool().unwrap())
        .collect();
    assert_eq!(valid, [true, false], "{verdicts:?}");

    // --- Statements, as Bitcoin Signed Messages. ---
    let digest = sha256(b"a signing request");
    let mut cases = Vec::new();
    for kind in [StatementKind::Request, StatementKind::Reject] {
        log.lock().unwrap().clear();
        let started = Instant::now();
        let (statement, shown) = with_operator(&emu, Policy::Approve, || {
            chainlock_signer::sign_statement(&mut ledger, kind, &digest)
        });
        eprintln!(
            "statement signing round trip in Speculos ({} screens): {:.2} s",
            shown.len(),
            started.elapsed().as_secs_f64()
        );
        let statement = statement.unwrap();
        assert_screens(&shown, &screens::statement(kind, &digest), kind.as_str());
        let hash = hex::encode_upper(sha256(bsm::statement_text(kind, &digest).as_bytes()));
        assert_screens(
            &shown,
            &fill(&readme_screens("statement"), &[("<statement hash>", hash)]),
            "README's statement screens",
        );
        save(
            &format!("statement-{}", kind.as_str()),
            json!({
                "flow": "statement", "path": default.to_string(), "kind": kind.as_str(),
                "digest": hex::encode(digest), "result": statement, "screens": shown,
            }),
            &log,
        );
        cases.push(
            json!({"name": kind.as_str(), "message": bsm::statement_text(kind, &digest),
            "signature": statement, "public_key": device_key.to_hex()}),
        );
    }
    cases.push(json!({"name": "request signature as a reject",
        "message": bsm::statement_text(StatementKind::Reject, &digest),
        "signature": cases[0]["signature"], "public_key": device_key.to_hex()}));
    let verdicts = judge("bsm-verify.mjs", Value::Array(cases));
    let valid: Vec<bool> = verdicts
        .iter()
        .map(|v| v["valid"].as_bool().unwrap())
        .collect();
    assert_eq!(valid, [true, true, false], "{verdicts:?}");

    // --- The user says no on the device; then retries. ---
    let what = record(&keys, &publisher, 0x22);
    log.lock().unwrap().clear();
    let (refused, shown) = with_operator(&emu, Policy::Reject, || ledger_sign(&mut ledger, &what));
    let err = refused.unwrap_err();
    assert_eq!(err.kind(), "rejected_on_device", "{err}");
    assert!(err.to_string().contains("nothing was signed"), "{err}");
    assert!(
        normalize_shown(&shown).contains(&"Reject".to_string()),
        "{shown:?}"
    );
    save(
        "record-tx-rejected",
        json!({
            "flow": "record_tx", "path": default.to_string(),
            "record_tx": what.record_tx().tx().to_hex(), "funding_tx": what.funding_tx().to_hex(),
            "spent": {"script": what.record_tx().spent().script_pubkey.to_hex(), "satoshis": what.record_tx().spent().value},
            "result": err.kind(), "screens": shown,
        }),
        &log,
    );
    let (refused, _) = with_operator(&emu, Policy::Reject, || {
        chainlock_signer::sign_statement(&mut ledger, StatementKind::Request, &digest)
    });
    assert_eq!(refused.unwrap_err().kind(), "rejected_on_device");
    let (retried, _) = with_operator(&emu, Policy::Approve, || ledger_sign(&mut ledger, &what));
    chainlock_protocol::keys::verify_input_signature(
        &device_key,
        &retried.unwrap(),
        what.record_tx().tx(),
        0,
        what.record_tx().spent(),
    )
    .unwrap();

    // --- Unplugged mid-exchange: the emulator stops while the device waits for the user. ---
    let what = record(&keys, &publisher, 0x33);
    let operator = emu.operate(Policy::Watch);
    let unplug = {
        let deadline = Instant::now() + Duration::from_secs(30);
        let api_probe = |emu: &Speculos| squash(&emu.screen().concat());
        std::thread::scope(|scope| {
            let signing = scope.spawn(|| ledger_sign(&mut ledger, &what));
            while api_probe(&emu) != "Reviewoutput#1" {
                assert!(Instant::now() < deadline, "the review never started");
                std::thread::sleep(Duration::from_millis(50));
            }
            operator.finish();
            emu.stop();
            signing.join().unwrap()
        })
    };
    let err = unplug.unwrap_err();
    assert_eq!(err.kind(), "disconnected", "{err}");
    assert!(err.to_string().contains("reconnect"), "{err}");
    drop(ledger);
    // Plugged in again: a fresh device signs the same transaction.
    let emu = Speculos::start(&binary);
    let (mut ledger, _) = open(&emu, &default);
    let (retried, _) = with_operator(&emu, Policy::Approve, || ledger_sign(&mut ledger, &what));
    chainlock_protocol::keys::verify_input_signature(
        &device_key,
        &retried.unwrap(),
        what.record_tx().tx(),
        0,
        what.record_tx().spent(),
    )
    .unwrap();
}
