//! `chainlock tx combine`: assembling co-signatures into the spending transaction.
//!
//! There is no `tx sign`: a maintainer key signs only a verified request
//! (`chainlock sign <request-id>`). `combine` matches each signature to its key by
//! verification, counts keys once, and prints the transaction only when the whole input passes
//! the node-like checker.

use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use chainlock_protocol::record_tx::RecordTx;
use chainlock_protocol::script::Script;
use chainlock_protocol::tx::{SpentOutput, Transaction};
use serde_json::json;

use crate::output::{print_json, read_tx_arg};

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
        "refusing to combine: co-signers sign only record transactions (PROTOCOL.md \
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
