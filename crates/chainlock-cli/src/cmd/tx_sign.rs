//! `chainlock tx sign` and `chainlock tx combine`: co-signing the custody input of a record
//! transaction, and assembling the co-signatures into the spending transaction.
//!
//! `sign` refuses anything that is not a record transaction of PROTOCOL.md section 2, and a
//! key that is not one of its custody keys; the signer computes the digest from the
//! transaction, and the signature is verified before it is printed. `combine` matches each
//! signature to its key by verification, counts keys once, and prints the transaction only
//! when the whole input passes the node-like checker.

use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use chainlock_protocol::record_tx::RecordTx;
use chainlock_protocol::script::Script;
use chainlock_protocol::tx::{SpentOutput, Transaction};
use chainlock_signer::OpenOptions;
use serde_json::json;

use crate::output::{print_json, read_tx_arg};

/// Arguments of `chainlock tx sign`.
#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// The unsigned record transaction: hex, or a file holding hex or raw bytes, or - for
    /// standard input.
    tx: String,
    /// The input to sign: a record transaction has one, input 0.
    #[arg(long, default_value_t = 0)]
    input: usize,
    /// The custody output it spends, as `<locking script hex>:<satoshis>`.
    #[arg(long, value_name = "SCRIPT_HEX:SATOSHIS")]
    spent: String,
    /// The key to sign with: keychain://<key-id> or ledger://<derivation-path>.
    #[arg(long, value_name = "URI")]
    key: String,
    /// Use a Speculos emulator at HOST:PORT instead of a USB Ledger (also CHAINLOCK_LEDGER_TCP).
    #[arg(long, value_name = "HOST:PORT")]
    ledger_tcp: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Arguments of `chainlock tx combine`.
#[derive(Debug, clap::Args)]
pub struct CombineArgs {
    /// The unsigned record transaction: hex, or a file holding hex or raw bytes, or - for
    /// standard input.
    tx: String,
    /// The custody output it spends, as `<locking script hex>:<satoshis>`.
    #[arg(long, value_name = "SCRIPT_HEX:SATOSHIS")]
    spent: String,
    /// The co-signatures (DER + sighash byte, hex), in any order; repeat or list them.
    #[arg(long = "sig", value_name = "HEX", required = true, num_args = 1..)]
    sigs: Vec<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs `chainlock tx sign`.
pub fn sign(args: SignArgs) -> Result<ExitCode> {
    if args.input != RecordTx::INPUT_INDEX {
        bail!(
            "--input {}: a record transaction has exactly one input, input 0; pass --input 0",
            args.input
        );
    }
    let tx = record_tx(&args.tx, &args.spent)?;
    let mut options = OpenOptions::from_env();
    if args.ledger_tcp.is_some() {
        options.ledger_tcp = args.ledger_tcp;
    }
    let mut signer = chainlock_signer::open(&args.key, &options)
        .with_context(|| format!("cannot open the signer {}", args.key))?;
    let identity = signer.identity().clone();
    let custody = tx.custody();
    if !custody.keys.contains(&identity.public_key.to_bytes()) {
        bail!(
            "key {} ({}) is not one of the {} custody keys of the output this transaction spends: \
             sign with a maintainer key of the policy in force",
            identity.key_id,
            identity.uri,
            custody.keys.len()
        );
    }
    eprintln!(
        "signing input 0 of {} (record {}, fee {} sat) with {} {}",
        tx.tx().txid(),
        hex::encode(tx.record_digest().0),
        tx.fee(),
        identity.kind,
        identity.key_id
    );
    let signature = chainlock_signer::sign_input(signer.as_mut(), &tx)
        .with_context(|| format!("signing with {} failed", identity.uri))?;
    if args.json {
        print_json(&json!({
            "txid": tx.tx().txid().to_string(),
            "input": RecordTx::INPUT_INDEX,
            "sighash": hex::encode(tx.sighash()),
            "key_id": identity.key_id,
            "public_key": identity.public_key.to_hex(),
            "uri": identity.uri,
            "signature": hex::encode(&signature),
        }))?;
    } else {
        println!("{}", hex::encode(&signature));
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `chainlock tx combine`.
pub fn combine(args: CombineArgs) -> Result<ExitCode> {
    let tx = record_tx(&args.tx, &args.spent)?;
    let mut sigs = Vec::with_capacity(args.sigs.len());
    for (i, text) in args.sigs.iter().enumerate() {
        let bytes = hex::decode(text.trim()).with_context(|| {
            format!(
                "--sig {i} (counting from 0) is not hex: give each signature as DER + 41 in hex"
            )
        })?;
        sigs.push(bytes);
    }
    let combined = chainlock_signer::combine(&tx, &sigs)?;
    let signed = combined.tx.tx();
    if args.json {
        print_json(&json!({
            "tx": signed.to_hex(),
            "txid": signed.txid().to_string(),
            "signers": combined.signers.iter().map(|k| k.key_id()).collect::<Vec<_>>(),
            "unused": combined.unused,
        }))?;
    } else {
        for key_id in &combined.unused {
            eprintln!(
                "note: the threshold is met without the signature of {key_id}; it is not used"
            );
        }
        eprintln!(
            "input 0 spends its custody output with {} of {} signatures; txid {}",
            combined.signers.len(),
            tx.custody().keys.len(),
            signed.txid()
        );
        println!("{}", signed.to_hex());
    }
    Ok(ExitCode::SUCCESS)
}

/// Decodes the transaction and checks it against section 2 with the output it spends.
fn record_tx(tx_arg: &str, spent_arg: &str) -> Result<RecordTx> {
    let bytes = read_tx_arg(tx_arg)?;
    let tx = Transaction::decode(&bytes).context(
        "not a valid transaction: pass its hex, or a file holding the hex or the raw bytes",
    )?;
    let spent = parse_spent(spent_arg)?;
    RecordTx::new(tx, spent).context(
        "refusing to sign or combine: co-signers sign only record transactions (PROTOCOL.md \
         section 2); check the transaction and the --spent output",
    )
}

fn parse_spent(arg: &str) -> Result<SpentOutput> {
    let Some((script, sats)) = arg.rsplit_once(':') else {
        bail!("--spent {arg:?} must be <locking script hex>:<satoshis>, e.g. 5221...52ae:15000");
    };
    let script_pubkey = Script::from_hex(script)
        .context("--spent: the locking script is not hex; give it as <hex>:<satoshis>")?;
    let value = sats
        .parse::<u64>()
        .with_context(|| format!("--spent: {sats:?} is not a whole number of satoshis"))?;
    Ok(SpentOutput {
        script_pubkey,
        value,
    })
}
