//! Shared helpers: a world with a real ledger file in a temporary directory, keys, policies,
//! records and signed transactions, and the @bsv/sdk judge that every accepted transaction
//! must also satisfy.

use std::path::PathBuf;

use chainlock_chain::local::Origin;
use chainlock_chain::{Broadcast, Chain, LocalLedger, PackageId};
use chainlock_protocol::hash::Digest;
use chainlock_protocol::keys::SecretKey;
use chainlock_protocol::policy::Policy;
use chainlock_protocol::record::{
    Artifact, Ecosystem, Genesis, ProtocolVersion, Record, Release, Rotation, Source, EMPTY_TREE,
};
use chainlock_protocol::record_tx::{build, RecordTxParams};
use chainlock_protocol::script::{Builder, Script};
use chainlock_protocol::sighash::sighash_forkid;
use chainlock_protocol::tx::{OutPoint, SpentOutput, Transaction, TxIn, TxOut, Txid};
use k256::ecdsa::signature::hazmat::PrehashSigner;
use serde_json::json;

pub use crate::judge::ask_judge;
use tempfile::TempDir;

/// The sighash type the protocol signs with.
pub const ALL_FORKID: u8 = 0x41;

/// What each custody output of a top-up holds.
pub const CUSTODY_VALUE: u64 = 20_000;

/// The one place the tests sign a transaction input: the FORKID sighash of `sighash_type`
/// computed by the protocol crate, signed RFC 6979 with low S, DER plus the sighash byte.
/// Signing here rather than through the protocol's signer lets a test sign what the
/// protocol's signer refuses to (another sighash type) and keeps the tests independent of
/// which signing functions the protocol crate makes public.
pub fn sign(
    key: &SecretKey,
    tx: &Transaction,
    input: usize,
    spent: &SpentOutput,
    sighash_type: u8,
) -> Vec<u8> {
    let digest = sighash_forkid(
        tx,
        input,
        &spent.script_pubkey,
        spent.value,
        u32::from(sighash_type),
    )
    .unwrap();
    let signing = k256::ecdsa::SigningKey::from_bytes((&*key.to_bytes()).into()).unwrap();
    let sig: k256::ecdsa::Signature = signing.sign_prehash(&digest).unwrap();
    let sig = sig.normalize_s().unwrap_or(sig);
    let mut out = sig.to_der().as_bytes().to_vec();
    out.push(sighash_type);
    out
}

/// A deterministic key.
pub fn key(seed: u8) -> SecretKey {
    let mut b = [0x29u8; 32];
    b[31] = seed;
    SecretKey::from_bytes(&b).unwrap()
}

/// Keys sorted in custody (public key byte) order.
pub fn sorted(mut keys: Vec<SecretKey>) -> Vec<SecretKey> {
    keys.sort_by_key(|k| k.public_key());
    keys
}

/// A policy of `m` of `keys`, with one trusted builder.
pub fn policy_of(keys: &[SecretKey], m: u8) -> Policy {
    Policy::new(
        keys.iter().map(SecretKey::public_key).collect(),
        m,
        vec!["b".repeat(64)],
        1,
        86_400,
    )
    .unwrap()
}

/// The P2PKH script of a key.
pub fn p2pkh(key: &SecretKey) -> Script {
    Script::p2pkh(&key.public_key().hash160())
}

/// A custody output to spend: where it is and what it holds.
#[derive(Debug, Clone)]
pub struct Custody {
    /// Where.
    pub outpoint: OutPoint,
    /// Its locking script and value.
    pub spent: SpentOutput,
}

/// A real ledger file in a temporary directory, a funding key, three maintainers in a
/// 2-of-3 policy, and the package `npm:left-pad`.
pub struct World {
    /// Holds the ledger file.
    pub dir: TempDir,
    /// The ledger under test.
    pub ledger: LocalLedger,
    /// The publisher's P2PKH funding key.
    pub funder: SecretKey,
    /// The maintainers, in key order.
    pub maintainers: Vec<SecretKey>,
    /// 2 of the 3 maintainers.
    pub policy: Policy,
    /// The package.
    pub package: PackageId,
}

impl World {
    /// A new world with an empty ledger.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ledger = LocalLedger::open(&dir.path().join("ledger.sqlite")).unwrap();
        let maintainers = sorted(vec![key(1), key(2), key(3)]);
        let policy = policy_of(&maintainers, 2);
        World {
            dir,
            ledger,
            funder: key(9),
            maintainers,
            policy,
            package: PackageId::new(Ecosystem::Npm, "left-pad"),
        }
    }

    /// The ledger file.
    pub fn path(&self) -> PathBuf {
        self.ledger.path().to_path_buf()
    }

    /// Another connection to the same file.
    pub fn reopen(&self) -> LocalLedger {
        LocalLedger::open(&self.path()).unwrap()
    }

    /// Faucet coins to the funding key: the funding output.
    pub fn faucet(&self, satoshis: u64) -> (OutPoint, TxOut) {
        let tx = self.ledger.faucet(&p2pkh(&self.funder), satoshis).unwrap();
        (
            OutPoint {
                txid: tx.txid(),
                vout: 0,
            },
            tx.outputs[0].clone(),
        )
    }

    /// A top-up: spends `funding` (a P2PKH output of the funding key) into `outputs`, signed.
    pub fn topup(&self, funding: &(OutPoint, TxOut), outputs: Vec<TxOut>) -> Transaction {
        spend_p2pkh(&self.funder, std::slice::from_ref(funding), outputs)
    }

    /// Funds `n` custody outputs of `policy` through the faucet and a broadcast top-up.
    pub fn fund(&self, policy: &Policy, n: usize) -> Vec<Custody> {
        let funding = self.faucet(CUSTODY_VALUE * n as u64 + 1_000);
        let script = policy.custody_script().unwrap();
        let outputs = (0..n)
            .map(|_| TxOut {
                value: CUSTODY_VALUE,
                script_pubkey: script.clone(),
            })
            .collect();
        let tx = self.topup(&funding, outputs);
        self.accept(&tx, None);
        (0..n)
            .map(|vout| Custody {
                outpoint: OutPoint {
                    txid: tx.txid(),
                    vout: vout as u32,
                },
                spent: SpentOutput {
                    script_pubkey: script.clone(),
                    value: CUSTODY_VALUE,
                },
            })
            .collect()
    }

    /// Broadcasts and insists it was accepted.
    pub fn accept(&self, tx: &Transaction, record: Option<&Record>) -> Txid {
        match self.ledger.broadcast(tx, record) {
            Ok(Broadcast::Accepted { txid }) => txid,
            other => panic!("expected the ledger to accept {}: {other:?}", tx.txid()),
        }
    }

    /// The genesis record of `policy` for the package.
    pub fn genesis_of(&self, policy: &Policy) -> Record {
        Record::Genesis(Genesis {
            protocol: ProtocolVersion::V1,
            ecosystem: self.package.ecosystem,
            package: self.package.name.clone(),
            policy: policy.clone(),
        })
    }

    /// A release record on `previous`, naming `policy` as the policy in force.
    pub fn release_on(&self, previous: Digest, policy: &Policy, version: &str) -> Record {
        Record::Release(Release {
            protocol: ProtocolVersion::V1,
            ecosystem: self.package.ecosystem,
            package: self.package.name.clone(),
            version: version.into(),
            source: Source {
                repository: "https://example.org/left-pad.git".into(),
                tag: format!("v{version}"),
                commit: "c".repeat(40),
                base_commit: EMPTY_TREE.into(),
            },
            artifact: Artifact {
                name: format!("left-pad-{version}.tgz"),
                size: 1234,
                sha256: Digest([0xa1; 32]),
            },
            diff_digest: Digest([0xd1; 32]),
            attestation_digest: Digest([0xe1; 32]),
            policy_digest: policy.digest().unwrap(),
            previous,
        })
    }

    /// A rotation on `previous` from `old` to `new`.
    pub fn rotation_on(&self, previous: Digest, old: &Policy, new: &Policy) -> Record {
        Record::Rotation(Rotation {
            protocol: ProtocolVersion::V1,
            ecosystem: self.package.ecosystem,
            package: self.package.name.clone(),
            policy: new.clone(),
            policy_digest: old.digest().unwrap(),
            previous,
        })
    }

    /// Publishes the package's genesis under `self.policy`, signed by the first two
    /// maintainers: the record and its transaction id.
    pub fn publish_genesis(&self) -> (Record, Txid) {
        let custody = self.fund(&self.policy, 1).remove(0);
        let genesis = self.genesis_of(&self.policy);
        let tx = record_tx(&custody, &genesis, &self.maintainers[..2], ALL_FORKID);
        let txid = self.accept(&tx, Some(&genesis));
        (genesis, txid)
    }

    /// Every transaction the ledger accepted by broadcast, judged input by input by the
    /// @bsv/sdk interpreter with the node's script flags: all must be valid. Returns how many
    /// inputs were judged.
    pub fn judge_everything(&self) -> usize {
        judge_ledger(&self.ledger)
    }
}

/// Spends P2PKH outputs of `key` into `outputs`, each input signed ALL|FORKID.
pub fn spend_p2pkh(
    key: &SecretKey,
    funding: &[(OutPoint, TxOut)],
    outputs: Vec<TxOut>,
) -> Transaction {
    let mut tx = Transaction {
        version: 1,
        inputs: funding
            .iter()
            .map(|(outpoint, _)| TxIn {
                prevout: *outpoint,
                script_sig: Script::default(),
                sequence: u32::MAX,
            })
            .collect(),
        outputs,
        lock_time: 0,
    };
    let unsigned = tx.clone();
    for (i, (_, out)) in funding.iter().enumerate() {
        let spent = SpentOutput {
            script_pubkey: out.script_pubkey.clone(),
            value: out.value,
        };
        let sig = sign(key, &unsigned, i, &spent, ALL_FORKID);
        let mut b = Builder::new();
        b.push(&sig).push(&key.public_key().to_bytes());
        tx.inputs[i].script_sig = b.into_script();
    }
    tx
}

/// The record transaction committing to `record`, spending `custody` with change to a P2PKH,
/// signed by `signers` (put in key order here) with `sighash_type`.
pub fn record_tx(
    custody: &Custody,
    record: &Record,
    signers: &[SecretKey],
    sighash_type: u8,
) -> Transaction {
    let unsigned = build(&RecordTxParams {
        custody_outpoint: custody.outpoint,
        spent: custody.spent.clone(),
        record_digest: record.digest().unwrap(),
        change_pubkey_hash: Some(key(9).public_key().hash160()),
        fee_sat_per_kb: 100,
    })
    .unwrap()
    .tx()
    .clone();
    sign_custody(&unsigned, &custody.spent, signers, sighash_type)
}

/// Puts `signers`' signatures (in key order, after the OP_0 dummy) on input 0 of `tx`.
pub fn sign_custody(
    tx: &Transaction,
    spent: &SpentOutput,
    signers: &[SecretKey],
    sighash_type: u8,
) -> Transaction {
    let mut signers = signers.to_vec();
    signers.sort_by_key(|k| k.public_key());
    let mut unsigned = tx.clone();
    unsigned.inputs[0].script_sig = Script::default();
    let mut b = Builder::new();
    b.push(&[]);
    for k in &signers {
        b.push(&sign(k, &unsigned, 0, spent, sighash_type));
    }
    let mut signed = unsigned;
    signed.inputs[0].script_sig = b.into_script();
    signed
}

/// Judges every input of every broadcast transaction in `ledger` with the @bsv/sdk
/// interpreter (`tests/judge/spend.mjs`, the node's script flags); panics on any invalid one.
/// Returns how many inputs were judged.
pub fn judge_ledger(ledger: &LocalLedger) -> usize {
    let mut cases = Vec::new();
    for (tx, origin) in ledger.history().unwrap() {
        if origin == Origin::Faucet {
            continue;
        }
        for (i, input) in tx.inputs.iter().enumerate() {
            let prev = ledger
                .transaction(&input.prevout.txid)
                .unwrap()
                .expect("an accepted transaction spends a known one");
            let out = &prev.outputs[input.prevout.vout as usize];
            cases.push(json!({
                "name": format!("{} input {i}", tx.txid()),
                "tx": tx.to_hex(),
                "input": i,
                "spent": { "script": out.script_pubkey.to_hex(), "satoshis": out.value },
                "flags": "node",
            }));
        }
    }
    if cases.is_empty() {
        return 0;
    }
    let verdicts = ask_judge(&cases);
    for v in &verdicts {
        assert_eq!(
            v["valid"], true,
            "@bsv/sdk refuses what the local ledger accepted: {} ({})",
            v["name"], v["error"]
        );
    }
    verdicts.len()
}

/// Every row of every table, in a stable order: equal dumps mean an unchanged database.
pub fn dump(path: &std::path::Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut rows = Vec::new();
    for t in tables {
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM {t} ORDER BY 1, 2"))
            .unwrap();
        let n = stmt.column_count();
        let mut q = stmt.query([]).unwrap();
        while let Some(r) = q.next().unwrap() {
            let cols: Vec<String> = (0..n)
                .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                .collect();
            rows.push(format!("{t}: {}", cols.join(" | ")));
        }
    }
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    rows.push(format!("user_version {version}"));
    rows
}
