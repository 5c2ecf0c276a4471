//! The network chain (ARC + lookups + a record source) against a fake network on 127.0.0.1
//! that mines into a local chain: funding, a genesis and a release broadcast, mined, proven
//! from the lookups' TSC proofs against their headers and verified offline; records that are
//! not the maintainers' consent left out; every kind of lying lookup refused with its reason.

use std::sync::Mutex;
use std::time::Duration;

use chainlock_chain::arc::ArcConfig;
use chainlock_chain::lookups::LookupConfig;
use chainlock_chain::network::{Candidate, NetworkChain, RecordSource};
use chainlock_chain::proof::record_beef;
use chainlock_chain::{Broadcast, Chain, Error, OutputState, PackageId, TxStatus};
use chainlock_protocol::record::Record;
use chainlock_protocol::tx::{OutPoint, SpentOutput, Transaction, TxOut};
use chainlock_spv::bundle::{verify_chain, Bundle};

use crate::network_server::{FakeNetwork, Lie};
use crate::util::*;

/// Record contents a test hands out, as a coordination remote would.
#[derive(Default, Clone)]
struct Offered(std::sync::Arc<Mutex<Vec<Candidate>>>);

impl RecordSource for Offered {
    fn describe(&self) -> String {
        "the test's records".into()
    }
    fn candidates(&self, _package: &PackageId) -> Result<Vec<Candidate>, String> {
        Ok(self.0.lock().unwrap().clone())
    }
}

fn offer(o: &Offered, record: &Record, tx: &Transaction) {
    o.0.lock().unwrap().push(Candidate {
        record: record.clone(),
        tx: tx.clone(),
    });
}

fn chain_for(net: &FakeNetwork, records: Offered) -> NetworkChain {
    let mut arc = ArcConfig::new(&net.url);
    arc.backoff = Duration::from_millis(10);
    let mut lookups = LookupConfig::new(&net.lookups_url());
    lookups.retry.backoff = Duration::from_millis(10);
    NetworkChain::new(arc, lookups, Box::new(records)).unwrap()
}

/// Funds 3 custody outputs of the world's policy on the network: the top-up.
fn fund(net: &FakeNetwork, chain: &NetworkChain, w: &World) -> Transaction {
    let funder = p2pkh(&w.funder);
    net.coins(&funder, CUSTODY_VALUE * 3 + 1_000);
    let coins = chain.unspent_outputs(&funder).unwrap();
    assert_eq!(coins.len(), 1, "the funding output, from the lookups");
    let script = w.policy.custody_script().unwrap();
    let topup = spend_p2pkh(
        &w.funder,
        &coins,
        (0..3)
            .map(|_| TxOut {
                value: CUSTODY_VALUE,
                script_pubkey: script.clone(),
            })
            .collect(),
    );
    assert_eq!(
        chain.broadcast(&topup, None).unwrap(),
        Broadcast::Accepted { txid: topup.txid() }
    );
    topup
}

fn custody(topup: &Transaction, vout: u32) -> Custody {
    Custody {
        outpoint: OutPoint {
            txid: topup.txid(),
            vout,
        },
        spent: SpentOutput {
            script_pubkey: topup.outputs[vout as usize].script_pubkey.clone(),
            value: CUSTODY_VALUE,
        },
    }
}

#[test]
fn records_go_through_arc_and_are_proven_from_the_lookups() {
    let net = FakeNetwork::start();
    let offered = Offered::default();
    let chain = chain_for(&net, offered.clone());
    assert!(chain.describe().contains("lookups at http://127.0.0.1"));
    let w = World::new();
    let topup = fund(&net, &chain, &w);
    // Top-ups go in the extended format: the lookups served the parent.
    let body = String::from_utf8(
        net.state
            .lock()
            .unwrap()
            .requests
            .iter()
            .rev()
            .find(|r| r.method == "POST")
            .unwrap()
            .body
            .clone(),
    )
    .unwrap();
    assert!(body.contains("0000000000ef"), "{body}");
    assert!(matches!(
        chain.output_state(&custody(&topup, 0).outpoint).unwrap(),
        OutputState::Unspent { .. }
    ));

    let genesis = w.genesis_of(&w.policy);
    let gtx = record_tx(
        &custody(&topup, 0),
        &genesis,
        &w.maintainers[..2],
        ALL_FORKID,
    );
    assert!(chain.record_chain(&w.package).unwrap().records.is_empty());
    // Offered before it is on the network: not counted.
    offer(&offered, &genesis, &gtx);
    assert!(chain.record_chain(&w.package).unwrap().records.is_empty());
    chain.broadcast(&gtx, Some(&genesis)).unwrap();
    let rc = chain.record_chain(&w.package).unwrap();
    assert_eq!(rc.records.len(), 1);
    assert_eq!(rc.records[0].status, TxStatus::Accepted);
    assert_eq!(
        chain.output_state(&custody(&topup, 0).outpoint).unwrap(),
        OutputState::Spent { by: gtx.txid() }
    );
    assert!(chain.merkle_path(&gtx.txid()).unwrap().is_none());

    let height = net.mine();
    assert!(
        matches!(chain.tx_status(&gtx.txid()).unwrap(), TxStatus::Mined { height: h, .. } if h == height)
    );
    assert_eq!(chain.headers().unwrap(), net.headers());
    // A header by its hash, checked against it; an unknown block is None.
    let tip = *net.headers().headers().last().unwrap();
    assert_eq!(
        chain.lookups().header_by_hash(&tip.hash()).unwrap(),
        Some((height, tip))
    );
    assert_eq!(
        chain
            .lookups()
            .header_by_hash(&chainlock_spv::BlockHash([3; 32]))
            .unwrap(),
        None
    );

    // A release on it, and two records that are not the maintainers' consent: one signed by
    // keys of another policy, one whose transaction commits to another record.
    let release = w.release_on(genesis.digest().unwrap(), &w.policy, "1.0.0");
    let rtx = record_tx(
        &custody(&topup, 1),
        &release,
        &w.maintainers[1..],
        ALL_FORKID,
    );
    chain.broadcast(&rtx, Some(&release)).unwrap();
    offer(&offered, &release, &rtx);
    let strangers = sorted(vec![key(40), key(41)]);
    let other = policy_of(&strangers, 1);
    let fake_funding = net.coins(&p2pkh(&w.funder), CUSTODY_VALUE + 1_000);
    let stranger_custody = spend_p2pkh(
        &w.funder,
        &[(
            OutPoint {
                txid: fake_funding.txid(),
                vout: 0,
            },
            fake_funding.outputs[0].clone(),
        )],
        vec![TxOut {
            value: CUSTODY_VALUE,
            script_pubkey: other.custody_script().unwrap(),
        }],
    );
    chain.broadcast(&stranger_custody, None).unwrap();
    let forged = w.release_on(genesis.digest().unwrap(), &w.policy, "6.6.6");
    let ftx = record_tx(
        &custody(&stranger_custody, 0),
        &forged,
        &strangers[..1],
        ALL_FORKID,
    );
    chain.broadcast(&ftx, Some(&forged)).unwrap();
    offer(&offered, &forged, &ftx);
    let mismatched = w.release_on(genesis.digest().unwrap(), &w.policy, "7.7.7");
    offer(&offered, &mismatched, &rtx);
    net.mine();

    let rc = chain.record_chain(&w.package).unwrap();
    let digests: Vec<_> = rc.records.iter().map(|r| r.digest).collect();
    assert_eq!(
        digests,
        vec![genesis.digest().unwrap(), release.digest().unwrap()]
    );
    assert!(rc.forks.is_empty(), "{:?}", rc.forks);

    // A record transaction on the network whose record no one published: refused, naming it.
    let hidden = w.release_on(genesis.digest().unwrap(), &w.policy, "1.0.1-hidden");
    let htx = record_tx(
        &custody(&topup, 2),
        &hidden,
        &w.maintainers[..2],
        ALL_FORKID,
    );
    chain.broadcast(&htx, Some(&hidden)).unwrap();
    let err = chain.record_chain(&w.package).unwrap_err();
    assert!(
        matches!(&err, Error::HiddenRecord { txid, digest, .. } if *txid == htx.txid() && *digest == hidden.digest().unwrap()),
        "{err}"
    );
    assert!(err.to_string().contains("do not sign"), "{err}");
    // Published, it is what it is: a fork, reported and never followed.
    offer(&offered, &hidden, &htx);
    let rc = chain.record_chain(&w.package).unwrap();
    assert_eq!(rc.records.len(), 2);
    let forks: Vec<_> = rc.forks.iter().map(|r| r.digest).collect();
    assert_eq!(forks, vec![hidden.digest().unwrap()]);

    // The bundle from the network's proofs verifies offline against the lookups' headers.
    let beef = record_beef(&chain, &rtx).unwrap().unwrap();
    let bundles = [
        Bundle {
            record_json: genesis.canonical_bytes().unwrap(),
            tx: gtx.clone(),
            beef: record_beef(&chain, &gtx).unwrap().unwrap(),
        },
        Bundle {
            record_json: release.canonical_bytes().unwrap(),
            tx: rtx.clone(),
            beef,
        },
    ];
    let report = verify_chain(
        &bundles,
        &chain.headers().unwrap(),
        &genesis.digest().unwrap(),
    )
    .unwrap();
    assert_eq!(report.chain.len(), 2, "{report:?}");

    assert_eq!(net.violations(), Vec::<String>::new());
    assert_eq!(
        net.judged(),
        6,
        "the top-ups and records, each judged by @bsv/sdk"
    );
}

#[test]
fn lying_lookups_are_refused_with_their_reason() {
    let net = FakeNetwork::start();
    let offered = Offered::default();
    let chain = chain_for(&net, offered.clone());
    let w = World::new();
    let topup = fund(&net, &chain, &w);
    let genesis = w.genesis_of(&w.policy);
    let gtx = record_tx(
        &custody(&topup, 0),
        &genesis,
        &w.maintainers[..2],
        ALL_FORKID,
    );
    chain.broadcast(&gtx, Some(&genesis)).unwrap();
    offer(&offered, &genesis, &gtx);
    net.mine();
    net.mine();

    let refused = |lie: Lie, call: &dyn Fn() -> Result<(), Error>, expect: &str| {
        net.lie(Some(lie));
        let err = call().expect_err(&format!("{lie:?} must be refused"));
        net.lie(None);
        let text = err.to_string();
        assert!(matches!(err, Error::Untrusted { .. }), "{lie:?}: {text}");
        assert!(text.contains(expect), "{lie:?}: {text}");
        assert!(
            text.contains(&net.lookups_url()),
            "names the server: {text}"
        );
    };
    refused(
        Lie::WrongTx,
        &|| chain.transaction(&gtx.txid()).map(drop),
        "whose hash is not the txid asked for",
    );
    refused(
        Lie::BadProof,
        &|| chain.merkle_path(&gtx.txid()).map(drop),
        "not the root of block",
    );
    refused(
        Lie::UnknownBlock,
        &|| chain.tx_status(&gtx.txid()).map(drop),
        "is not on the header chain",
    );
    refused(
        Lie::WrongSpender,
        &|| chain.output_state(&custody(&topup, 0).outpoint).map(drop),
        "does not spend it",
    );
    refused(
        Lie::WrongValue,
        &|| {
            chain
                .unspent_outputs(&w.policy.custody_script().unwrap())
                .map(drop)
        },
        "does not pay",
    );
    // Headers: a fresh client, so nothing is cached yet.
    let fresh = chain_for(&net, offered.clone());
    refused(
        Lie::UnlinkedHeader,
        &|| fresh.headers().map(drop),
        "does not link to the header at height",
    );
    let fresh = chain_for(&net, offered.clone());
    refused(
        Lie::ForgedHeader,
        &|| fresh.headers().map(drop),
        "the header's fields hash to",
    );
    // A lie in the record chain's proofs refuses the record chain, not a shorter one.
    refused(
        Lie::BadProof,
        &|| chain.record_chain(&w.package).map(drop),
        "not the root of block",
    );
    // Honest again: everything answers.
    assert_eq!(chain.record_chain(&w.package).unwrap().records.len(), 1);
    assert_eq!(net.violations(), Vec::<String>::new());
}

#[test]
fn lookup_failures_are_retried_then_name_the_request() {
    let net = FakeNetwork::start();
    let chain = chain_for(&net, Offered::default());
    net.state.lock().unwrap().drop_next = 2;
    assert_eq!(
        chain.headers().unwrap().len(),
        1,
        "the third attempt succeeds"
    );
    net.state.lock().unwrap().drop_next = 10;
    let err = chain_for(&net, Offered::default())
        .headers()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("GET /chain/info failed after 4 attempt(s)"),
        "{err}"
    );
    assert!(matches!(
        NetworkChain::new(
            ArcConfig::new(&net.url),
            LookupConfig::new("ftp://x"),
            Box::new(Offered::default())
        ),
        Err(Error::LookupUrl { .. })
    ));
}

#[test]
fn a_reorganisation_is_followed_not_mistaken_for_a_lie() {
    let net = FakeNetwork::start();
    let chain = chain_for(&net, Offered::default());
    net.mine();
    net.mine();
    assert_eq!(chain.headers().unwrap(), net.headers());
    // Another chain of the same length, then longer: the kept headers no longer lead to the
    // tip, or no longer link; both are fetched again from height 0.
    let dir = tempfile::tempdir().unwrap();
    let other = std::sync::Arc::new(
        chainlock_chain::LocalLedger::open(&dir.path().join("other.sqlite")).unwrap(),
    );
    for t in 0..3 {
        other.mine(1_900_000_000 + t).unwrap();
    }
    net.state.lock().unwrap().serve_from = Some(other.clone());
    assert_eq!(chain.headers().unwrap(), other.headers().unwrap());
    net.state.lock().unwrap().serve_from = None;
    net.mine();
    assert_eq!(chain.headers().unwrap(), net.headers());
}
