//! `chainlock tx`: decode transactions and judge their inputs.
//!
//! Each subcommand is a variant of [`Sub`] with its own arguments; signing and combining
//! live in their own modules and are added here as further variants.

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use chainlock_protocol::checker::{check_inputs, InputVerdict, Template};
use chainlock_protocol::hash::sha256;
use chainlock_protocol::script::Script;
use chainlock_protocol::sighash::SIGHASH_ALL_FORKID;
use chainlock_protocol::text::unix_time;
use chainlock_protocol::tx::{SpentOutput, Transaction};
use serde_json::{json, Value};

use crate::output::{count, exit_on_write_error, print_json, read_tx_arg};

/// Arguments of `chainlock tx`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
}

/// The `chainlock tx` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Sub {
    /// Decode a transaction: inputs, outputs, and the templates ChainLock recognises.
    Decode(DecodeArgs),
    /// Check that every input spends its output, as the BSV node would judge it.
    ///
    /// Exits 0 when every input is valid, 1 when any is invalid or spends an output whose
    /// template the checker does not know.
    Verify(VerifyArgs),
    /// Assemble co-signatures into the custody input and check the whole spend.
    Combine(super::tx_sign::CombineArgs),
}

/// Arguments of `chainlock tx decode`.
#[derive(Debug, clap::Args)]
pub(crate) struct DecodeArgs {
    /// The transaction: hex, or a file holding hex or raw bytes, or - for standard input.
    tx: String,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Arguments of `chainlock tx verify`.
#[derive(Debug, clap::Args)]
pub(crate) struct VerifyArgs {
    /// The transaction: hex, or a file holding hex or raw bytes, or - for standard input.
    tx: String,
    /// An output being spent, as `<locking script hex>:<satoshis>`; give one per input, in
    /// input order.
    #[arg(long = "spent", value_name = "SCRIPT_HEX:SATOSHIS", required = true)]
    spent: Vec<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs `chainlock tx`.
pub fn run(args: Args) -> Result<ExitCode> {
    match args.command {
        Sub::Decode(a) => decode(a),
        Sub::Verify(a) => verify(a),
        Sub::Combine(a) => super::tx_sign::combine(a),
    }
}

fn load_tx(arg: &str) -> Result<Transaction> {
    let bytes = read_tx_arg(arg)?;
    Transaction::decode(&bytes).with_context(|| {
        "not a valid transaction: pass its hex, or a file holding the hex or the raw bytes"
            .to_string()
    })
}

fn decode(args: DecodeArgs) -> Result<ExitCode> {
    let tx = load_tx(&args.tx)?;
    if args.json {
        // Streamed input by input: a 9.6 MB transaction once held 1.4 GB as one JSON value.
        print_json(&DecodedTx(&tx))?;
    } else {
        let mut out = BufWriter::new(std::io::stdout().lock());
        if let Err(err) = decode_text(&tx, &mut out).and_then(|()| out.flush()) {
            exit_on_write_error(&err);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `tx decode --json`: serialized as it is written, one input or output at a time (keys in
/// the alphabetical order `json!` gives them).
struct DecodedTx<'a>(&'a Transaction);

impl serde::Serialize for DecodedTx<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let tx = self.0;
        let mut map = s.serialize_map(Some(6))?;
        map.serialize_entry("inputs", &Items(tx.inputs.len(), &|i| input_json(tx, i)))?;
        map.serialize_entry("locktime", &tx.lock_time)?;
        map.serialize_entry("outputs", &Items(tx.outputs.len(), &|i| output_json(tx, i)))?;
        map.serialize_entry("size", &tx.encode().len())?;
        map.serialize_entry("txid", &tx.txid().to_string())?;
        map.serialize_entry("version", &tx.version)?;
        map.end()
    }
}

/// A JSON array whose `n` items are made one at a time, as they are written.
struct Items<'a>(usize, &'a dyn Fn(usize) -> Value);

impl serde::Serialize for Items<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq((0..self.0).map(self.1))
    }
}

fn input_json(tx: &Transaction, i: usize) -> Value {
    let Some(input) = tx.inputs.get(i) else {
        return Value::Null;
    };
    json!({
        "index": i,
        "prevout": { "txid": input.prevout.txid.to_string(), "vout": input.prevout.vout },
        "script": { "hex": input.script_sig.to_hex(), "asm": input.script_sig.to_string() },
        "sequence": input.sequence,
    })
}

fn output_json(tx: &Transaction, i: usize) -> Value {
    let Some(output) = tx.outputs.get(i) else {
        return Value::Null;
    };
    json!({
        "index": i,
        "value": output.value,
        "script": { "hex": output.script_pubkey.to_hex(), "asm": output.script_pubkey.to_string() },
        "template": output_template(&output.script_pubkey),
    })
}

/// What an output's locking script is, in ChainLock's terms.
fn output_template(script: &Script) -> Value {
    if let Ok(digest) = script.parse_commitment() {
        return json!({ "type": "commitment", "record_digest": hex::encode(digest) });
    }
    match Template::of(script) {
        Template::P2pkh { pubkey_hash } => {
            json!({ "type": "p2pkh", "pubkey_hash": hex::encode(pubkey_hash) })
        }
        Template::Custody(c) => json!({
            "type": "custody",
            "threshold": c.threshold,
            "keys": c.keys.iter().map(|k| json!({
                "public_key": hex::encode(k),
                "key_id": hex::encode(sha256(k)),
            })).collect::<Vec<_>>(),
        }),
        _ => json!({ "type": "unknown" }),
    }
}

fn template_text(t: &Value) -> String {
    match t["type"].as_str() {
        Some("commitment") => format!(
            "chainlock commitment to record {}",
            t["record_digest"].as_str().unwrap_or_default()
        ),
        Some("p2pkh") => format!(
            "P2PKH to key hash {}",
            t["pubkey_hash"].as_str().unwrap_or_default()
        ),
        Some("custody") => {
            let keys = t["keys"].as_array().map(Vec::as_slice).unwrap_or_default();
            let ids: Vec<&str> = keys.iter().filter_map(|k| k["key_id"].as_str()).collect();
            format!(
                "custody {}-of-{}, key ids {}",
                t["threshold"],
                keys.len(),
                ids.join(", ")
            )
        }
        _ => "unrecognised script".into(),
    }
}

fn decode_text(tx: &Transaction, s: &mut impl Write) -> std::io::Result<()> {
    writeln!(s, "transaction {}", tx.txid())?;
    writeln!(s, "  version  {}", tx.version)?;
    writeln!(s, "  size     {} bytes", tx.encode().len())?;
    writeln!(s, "  inputs   {}", tx.inputs.len())?;
    for (i, input) in tx.inputs.iter().enumerate() {
        writeln!(
            s,
            "    #{i} spends {}  sequence {:#010x}",
            input.prevout, input.sequence
        )?;
        writeln!(s, "       script {}", or_empty(&input.script_sig.to_hex()))?;
        writeln!(
            s,
            "       asm    {}",
            or_empty(&input.script_sig.to_string())
        )?;
    }
    writeln!(s, "  outputs  {}", tx.outputs.len())?;
    for (i, output) in tx.outputs.iter().enumerate() {
        writeln!(
            s,
            "    #{i} {} sat  {}",
            output.value,
            template_text(&output_template(&output.script_pubkey))
        )?;
        writeln!(
            s,
            "       script {}",
            or_empty(&output.script_pubkey.to_hex())
        )?;
    }
    // Below 500,000,000 a lock time is a block height, from there on a Unix time.
    if tx.lock_time >= 500_000_000 {
        writeln!(s, "  locktime {}", unix_time(u64::from(tx.lock_time), None))
    } else {
        writeln!(s, "  locktime {}", tx.lock_time)
    }
}

fn or_empty(text: &str) -> &str {
    if text.is_empty() {
        "(empty)"
    } else {
        text
    }
}

fn parse_spent(arg: &str) -> Result<SpentOutput> {
    let Some((script, sats)) = arg.rsplit_once(':') else {
        bail!("--spent {arg:?} must be <locking script hex>:<satoshis>, e.g. 76a914...88ac:15000");
    };
    let script_pubkey = Script::from_hex(script).with_context(|| {
        format!("--spent {arg:?}: the locking script is not hex; give it as <hex>:<satoshis>")
    })?;
    let value = sats
        .parse::<u64>()
        .with_context(|| format!("--spent {arg:?}: {sats:?} is not a whole number of satoshis"))?;
    Ok(SpentOutput {
        script_pubkey,
        value,
    })
}

fn verify(args: VerifyArgs) -> Result<ExitCode> {
    let tx = load_tx(&args.tx)?;
    let spent = args
        .spent
        .iter()
        .map(|s| parse_spent(s))
        .collect::<Result<Vec<_>>>()?;
    if spent.len() != tx.inputs.len() {
        bail!(
            "the transaction has {} inputs but {} --spent were given: give one --spent <script hex>:<satoshis> per input, in input order",
            tx.inputs.len(),
            spent.len()
        );
    }
    let verdicts = check_inputs(&tx, &spent);
    let all_valid = verdicts.iter().all(InputVerdict::is_valid);
    if args.json {
        print_json(&json!({
            "txid": tx.txid().to_string(),
            "valid": all_valid,
            "inputs": verdicts.iter().map(verdict_json).collect::<Vec<_>>(),
        }))?;
    } else {
        outln!("transaction {}", tx.txid());
        for v in &verdicts {
            out!("{}", verdict_text(v));
        }
        if all_valid {
            match verdicts.len() {
                1 => outln!("the 1 input is valid"),
                n => outln!("all {n} inputs are valid"),
            }
        } else {
            let bad = verdicts.iter().filter(|v| !v.is_valid()).count();
            outln!(
                "{bad} of {} INVALID: this transaction would be refused by the network",
                count(verdicts.len(), "input is", "inputs are")
            );
        }
    }
    Ok(if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn sighash_name(t: u8) -> String {
    let base = match t & 0x1f {
        1 => "ALL",
        2 => "NONE",
        3 => "SINGLE",
        _ => "?",
    };
    let mut name = base.to_string();
    if t & 0x80 != 0 {
        name.push_str("|ANYONECANPAY");
    }
    if t & 0x40 != 0 {
        name.push_str("|FORKID");
    }
    format!("{name} (0x{t:02x})")
}

fn verdict_json(v: &InputVerdict) -> Value {
    json!({
        "index": v.input_index,
        "template": v.template.to_string(),
        "valid": v.is_valid(),
        "reason": v.reason().map(ToString::to_string),
        "signatures": v.signatures().iter().map(|s| json!({
            "public_key": s.key.to_hex(),
            "key_id": s.key.key_id(),
            "sighash_type": s.sighash_type,
            "protocol_sighash": u32::from(s.sighash_type) == SIGHASH_ALL_FORKID,
        })).collect::<Vec<_>>(),
    })
}

fn verdict_text(v: &InputVerdict) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    match v.reason() {
        None => {
            let _ = writeln!(s, "  input {}  {}  valid", v.input_index, v.template);
            for sig in v.signatures() {
                let _ = writeln!(
                    s,
                    "    signed by key {}  {}",
                    sig.key.key_id(),
                    sighash_name(sig.sighash_type)
                );
                if u32::from(sig.sighash_type) != SIGHASH_ALL_FORKID {
                    let _ = writeln!(
                        s,
                        "    note: the node accepts this sighash type, but ChainLock signs with ALL|FORKID (0x41) only"
                    );
                }
            }
        }
        Some(reason) => {
            let _ = writeln!(
                s,
                "  input {}  {}  INVALID: {reason}",
                v.input_index, v.template
            );
        }
    }
    s
}
