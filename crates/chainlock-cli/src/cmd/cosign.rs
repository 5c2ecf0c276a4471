//! The co-signer's commands: `watch`, `sync`, `pending`, `review`, `sign`, `reject`,
//! `finalize`, `history`. Each is a few lines over `chainlock_cosign::Workspace`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use chainlock_cosign::workspace::{now, Workspace};
use chainlock_cosign::Paths;
use chainlock_protocol::text::{duration, shown, unix_time, utc_date};
use chainlock_signer::OpenOptions;

use crate::output::print_json;

/// Opens the workspace from the environment's directories.
pub fn workspace() -> Result<Workspace> {
    let paths = Paths::from_env()?;
    Workspace::open(paths).context("cannot open the co-signer's workspace")
}

/// Arguments of `chainlock watch`.
#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    #[command(subcommand)]
    command: WatchSub,
}

#[derive(Debug, clap::Subcommand)]
enum WatchSub {
    /// Watch a package: fetch its coordination refs and pin its genesis (trust on first use).
    Add {
        /// The coordination remote (by default the package repository's own remote).
        remote: String,
        /// Your own clone of the package's source (cloned from REMOTE if it does not exist).
        #[arg(long, value_name = "DIR")]
        clone: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List watched packages.
    List {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `chainlock watch`.
pub fn watch(args: WatchArgs) -> Result<ExitCode> {
    let mut ws = workspace()?;
    match args.command {
        WatchSub::Add {
            remote,
            clone,
            json,
        } => {
            if chainlock_cosign::publisher::clone_if_missing(&remote, &clone)? {
                eprintln!("cloned {remote} into {}", clone.display());
            }
            let (watched, source) = ws.watch_add(&remote, &clone)?;
            if json {
                print_json(&serde_json::json!({"watched": watched, "pinned_from": source}))?;
            } else {
                println!(
                    "watching {} (coordination remote {})",
                    watched.package, watched.remote
                );
                println!("pinned genesis {} from {}", watched.genesis, source);
                println!(
                    "trust on first use: compare this genesis digest with another maintainer \
                     (in person or on a channel you trust) before you sign anything"
                );
            }
        }
        WatchSub::List { json } => {
            let packages = &ws.config().packages;
            if json {
                print_json(packages)?;
            } else if packages.is_empty() {
                println!("no watched packages: `chainlock watch add <remote> --clone <dir>`");
            } else {
                for w in packages {
                    println!(
                        "{}  remote {}  clone {}  genesis {}",
                        w.package,
                        w.remote,
                        w.clone.display(),
                        w.genesis
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `chainlock chain`.
#[derive(Debug, clap::Args)]
pub struct ChainArgs {
    #[command(subcommand)]
    command: ChainSub,
}

#[derive(Debug, clap::Subcommand)]
enum ChainSub {
    /// `local [FILE]`: the embedded local ledger (SQLite; demo, tests, offline: NOT the BSV
    /// network). `arc URL [--lookups URL]`: an ARC server of the BSV network, with a
    /// WhatsOnChain-style lookup server for everything ARC does not serve.
    Use {
        /// `local` or `arc`.
        backend: String,
        /// For `local`, the ledger file (default: ledger.sqlite in the data directory;
        /// co-signers of one local setup point at the same file). For `arc`, its base URL.
        path: Option<PathBuf>,
        /// For `arc`: read its API key from standard input and keep it in the OS keychain.
        #[arg(long)]
        api_key_stdin: bool,
        /// For `arc`: a WhatsOnChain-style lookup server for transactions, proofs, spends,
        /// unspent outputs and headers, with its chain and network
        /// (`https://api.whatsonchain.com/v1/bsv/main`): the whole loop then runs on the network.
        #[arg(long, value_name = "URL")]
        lookups: Option<String>,
    },
    /// Say which backend is in use.
    Show,
    /// Where a transaction stands, as the backend says (ARC: with its reason).
    Status {
        /// The transaction id.
        txid: String,
    },
    /// Write the backend's block headers (80 bytes each, height 0 first): the file
    /// `chainlock verify-record --headers` reads.
    Headers {
        /// Where to write them.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Runs `chainlock chain`.
pub fn chain(args: ChainArgs) -> Result<ExitCode> {
    let mut ws = workspace()?;
    match args.command {
        ChainSub::Use {
            backend,
            path,
            api_key_stdin,
            lookups,
        } => match backend.as_str() {
            "local" => {
                if api_key_stdin || lookups.is_some() {
                    anyhow::bail!("--api-key-stdin and --lookups are for `chain use arc URL`");
                }
                let path = path.map(|p| std::path::absolute(&p).unwrap_or(p));
                ws.set_chain(chainlock_cosign::ChainConfig::Local { path })?;
            }
            "arc" => {
                let Some(url) = path.as_ref().and_then(|p| p.to_str()) else {
                    anyhow::bail!("give the ARC server's URL: `chainlock chain use arc https://arc.example.com`");
                };
                let url = url.trim_end_matches('/').to_string();
                // Checked before it is saved: an http(s) URL.
                chainlock_chain::arc::ArcClient::new(chainlock_chain::arc::ArcConfig::new(&url))?;
                let lookups = lookups.map(|l| l.trim_end_matches('/').to_string());
                if let Some(l) = &lookups {
                    chainlock_chain::lookups::Lookups::new(
                        chainlock_chain::lookups::LookupConfig::new(l),
                    )?;
                }
                if api_key_stdin {
                    let mut key = String::new();
                    std::io::stdin()
                        .read_line(&mut key)
                        .context("cannot read the API key from standard input")?;
                    let key = key.trim();
                    if key.is_empty() {
                        anyhow::bail!("no API key on standard input");
                    }
                    chainlock_signer::secret::set(
                        &chainlock_cosign::ChainConfig::arc_key_name(&url),
                        key,
                    )?;
                    println!("ARC API key stored in the OS keychain");
                }
                ws.set_chain(chainlock_cosign::ChainConfig::Arc { url, lookups })?;
            }
            other => anyhow::bail!(
                "unknown backend {:?}: `local [FILE]` or `arc URL`",
                shown(other)
            ),
        },
        ChainSub::Show => {}
        ChainSub::Status { txid } => {
            let txid = chainlock_protocol::tx::Txid::from_display_hex(&txid)
                .context("give a transaction id: 64 lowercase hex digits")?;
            println!("{}", ws.chain().describe());
            match ws.chain().tx_status(&txid)? {
                chainlock_chain::TxStatus::Unknown => println!("{txid}: unknown"),
                chainlock_chain::TxStatus::Accepted => {
                    println!("{txid}: accepted, not yet in a block")
                }
                chainlock_chain::TxStatus::Mined { height, block_time } => {
                    println!(
                        "{txid}: mined at height {height} ({})",
                        utc_date(block_time)
                    )
                }
                chainlock_chain::TxStatus::Rejected { reason } => {
                    println!("{txid}: REJECTED: {reason}")
                }
            }
            return Ok(ExitCode::SUCCESS);
        }
        ChainSub::Headers { out } => {
            let headers = ws.chain().headers()?;
            chainlock_fs::write(
                &out,
                &headers.to_bytes(),
                chainlock_fs::Options::REPLACE_PUBLIC,
            )
            .with_context(|| format!("cannot write {}", out.display()))?;
            println!("{} headers written to {}", headers.len(), out.display());
            return Ok(ExitCode::SUCCESS);
        }
    }
    println!("{}", ws.chain().describe());
    Ok(ExitCode::SUCCESS)
}

/// Arguments of the commands that take only `--json`.
#[derive(Debug, clap::Args)]
pub struct JsonArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs `chainlock sync`.
pub fn sync(args: JsonArgs) -> Result<ExitCode> {
    let ws = workspace()?;
    let summaries = ws.sync()?;
    if args.json {
        print_json(&summaries)?;
    } else {
        if summaries.is_empty() {
            println!("no watched packages: `chainlock watch add <remote> --clone <dir>`");
        }
        for s in &summaries {
            println!(
                "{}: {} {} updated, {} {} on the remote{}",
                s.package,
                s.updated,
                plural(s.updated, "ref", "refs"),
                s.requests,
                plural(s.requests, "request", "requests"),
                if s.pushed > 0 {
                    format!(
                        ", {} queued {} pushed",
                        s.pushed,
                        plural(s.pushed, "object", "objects")
                    )
                } else {
                    String::new()
                }
            );
            for bad in &s.invalid {
                println!("  INVALID (not counted) {}: {}", bad.name, bad.reason);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `chainlock pending`.
#[derive(Debug, clap::Args)]
pub struct PendingArgs {
    /// List every request, final, rejected and expired ones too.
    #[arg(long)]
    all: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs `chainlock pending`.
pub fn pending(args: PendingArgs) -> Result<ExitCode> {
    let ws = workspace()?;
    let now = now();
    let list = if args.all {
        ws.requests()?
    } else {
        ws.pending(now)?
    };
    if args.json {
        print_json(&list)?;
        return Ok(ExitCode::SUCCESS);
    }
    if ws.config().demo {
        println!("DEMO workspace (local ledger, demo keys): nothing here is a real release\n");
    }
    if list.is_empty() {
        println!("nothing pending (run `chainlock sync` to fetch new requests)");
    }
    for p in &list {
        let state = if p.finalized {
            "final".to_string()
        } else if !p.rejected_by.is_empty() {
            format!("rejected by {}", p.rejected_by.len())
        } else if p.expires_at <= now {
            "expired".to_string()
        } else {
            format!("expires in {}", duration(p.expires_at - now))
        };
        let verdict = match p.verdict {
            Some(chainlock_cosign::Verdict::Ready) => "ready to sign",
            Some(chainlock_cosign::Verdict::Failing) => "FAILING CHECKS: do not sign",
            Some(chainlock_cosign::Verdict::Waiting) => "waiting on evidence",
            None => "",
        };
        println!(
            "{}  {} {}  {}/{} signed  {}{}{}",
            &p.request[..16],
            p.package,
            p.what,
            p.signed_by.len(),
            p.threshold,
            state,
            if p.my_keys_to_sign.is_empty() {
                String::new()
            } else {
                "  needs your signature".to_string()
            },
            if verdict.is_empty() {
                String::new()
            } else {
                format!("  [{verdict}]")
            }
        );
        if p.verdict == Some(chainlock_cosign::Verdict::Failing) {
            for problem in p.problems.iter().take(3) {
                println!("    {problem}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `chainlock review`.
#[derive(Debug, clap::Args)]
pub struct ReviewArgs {
    /// The request id (a unique prefix of at least 8 hex digits).
    id: String,
    /// The published artifact, compared with the source at the release's commit.
    #[arg(long, value_name = "FILE")]
    artifact: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Check expiry as of this Unix time instead of now.
    #[arg(long, value_name = "UNIX_SECONDS")]
    now: Option<u64>,
}

/// Runs `chainlock review`: exit 0 when ready to sign, 1 when not.
pub fn review(args: ReviewArgs) -> Result<ExitCode> {
    let ws = workspace()?;
    let options = chainlock_cosign::ReviewOptions {
        artifact: args.artifact.clone(),
        skip_risk: false,
    };
    let review = ws.review_with(&args.id, args.now.unwrap_or_else(now), &options)?;
    if args.json {
        print_json(&serde_json::json!({
            "package": review.package,
            "request_id": review.report.request_id(),
            "ready_to_sign": review.report.ready_to_sign(),
            "record_digest": review.report.record_digest(),
            "record": review.report.record_fields(),
            "checks": review.report.checks(),
            "diff_digest": review.diff_digest,
            "builders": review.builders,
            "transaction": review.transaction,
            "signatures": review.signatures,
            "rejections": review.rejections,
            "threshold": review.threshold,
            "maintainers": review.maintainers,
            "invalid_refs": review.invalid,
            "risk": review.risk,
            "risk_error": review.risk_error,
            "warnings": review.warnings,
        }))?;
    } else {
        if ws.config().demo {
            println!("DEMO workspace: nothing here is a real release\n");
        }
        println!("package {}", review.package);
        println!("{}", review.report);
        if let Ok(req) = ws.request(&args.id) {
            if let chainlock_protocol::record::Record::Rotation(r) = &req.record {
                println!("ROTATION: custody moves to a new policy:");
                for change in chainlock_cosign::rotation::policy_changes(&req.policy, &r.policy) {
                    println!("  {change}");
                }
            }
        }
        if let Some(tx) = &review.transaction {
            println!("transaction:");
            println!(
                "  spends      {} ({} satoshis, {} custody)",
                tx.custody_outpoint, tx.custody_satoshis, tx.custody
            );
            println!("  output 0    commitment to record {}", tx.commits_to);
            if let Some((hash, sats)) = &tx.change {
                let address = tx.change_address.as_deref().unwrap_or("?");
                println!("  output 1    {sats} satoshis change to {address} (P2PKH {hash})");
            }
            println!("  fee         {} satoshis", tx.fee);
            println!("  you sign    sighash {} (ALL|FORKID)", tx.sighash);
        }
        println!(
            "signatures: {} of {} needed{}",
            review.signatures.len(),
            review.threshold,
            review
                .signatures
                .iter()
                .map(|s| format!("\n  {}", s.key_id))
                .collect::<String>()
        );
        for r in &review.rejections {
            println!(
                "REJECTED by {} at {}: {}",
                r.public_key.key_id(),
                unix_time(r.created_at, None),
                shown(&r.reason)
            );
        }
        for bad in &review.invalid {
            println!("INVALID ref (not counted) {}: {}", bad.name, bad.reason);
        }
        if let Some(scan) = &review.risk {
            let flags: Vec<_> = scan.all_flags().collect();
            println!(
                "risk flags: {} in {} changed {}{}",
                flags.len(),
                scan.files_scanned,
                plural(scan.files_scanned, "file", "files"),
                if flags.is_empty() {
                    ""
                } else {
                    " (`chainlock diff risk` for all)"
                }
            );
            for f in flags.iter().take(20) {
                println!(
                    "  [{:^6}] {}{}: {}",
                    f.severity.as_str(),
                    shown(&f.file),
                    f.line.map(|l| format!(":{l}")).unwrap_or_default(),
                    shown(&f.message)
                );
            }
        }
        if let Some(e) = &review.risk_error {
            println!("risk flags: could not scan the range: {e}");
        }
        for w in &review.warnings {
            println!("WARNING (sign only with --accept-warnings): {w}");
        }
    }
    Ok(if review.report.ready_to_sign() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Arguments of `chainlock sign`.
#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// The request id (a unique prefix of at least 8 hex digits).
    id: String,
    /// The key: keychain://<key-id or prefix> or ledger://<path>.
    #[arg(long, value_name = "URI")]
    key: String,
    /// Use a Speculos emulator at HOST:PORT instead of a USB Ledger (also CHAINLOCK_LEDGER_TCP).
    #[arg(long, value_name = "HOST:PORT")]
    ledger_tcp: Option<String>,
    /// Sign even though the review raised warnings (high risk flags, a trusted builder that
    /// rebuilt another artifact): read them first; they are kept in your audit log.
    #[arg(long)]
    accept_warnings: bool,
    /// The published artifact, compared with the source at the release's commit.
    #[arg(long, value_name = "FILE")]
    artifact: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs `chainlock sign`.
pub fn sign(args: SignArgs) -> Result<ExitCode> {
    let ws = workspace()?;
    let mut options = OpenOptions::from_env();
    if args.ledger_tcp.is_some() {
        options.ledger_tcp = args.ledger_tcp;
    }
    let review_options = chainlock_cosign::ReviewOptions {
        artifact: args.artifact.clone(),
        skip_risk: false,
    };
    if let Some(path) = args.key.strip_prefix("ledger://") {
        // Before the device is asked: what it will show, to compare screen by screen.
        eprint!("{}", ws.ledger_screens(&args.id, path)?);
        eprintln!(
            "The device shows amounts, the change address and the fee, never the record \
             digest: `chainlock review {}` shows that.",
            args.id
        );
    }
    let doc = match ws.sign_with(
        &args.id,
        &args.key,
        &options,
        now(),
        args.accept_warnings,
        &review_options,
    ) {
        Ok(doc) => doc,
        Err(chainlock_cosign::Error::NotReady(why)) => {
            eprintln!("not signing: {why}");
            eprintln!(
                "run `chainlock review {}` for the whole report; nothing was signed",
                args.id
            );
            return Ok(ExitCode::from(1));
        }
        Err(chainlock_cosign::Error::Warnings(warnings)) => {
            eprintln!(
                "not signing: {} {} to acknowledge:",
                warnings.len(),
                plural(warnings.len(), "warning", "warnings")
            );
            for w in &warnings {
                eprintln!("  - {w}");
            }
            eprintln!(
                "read them (`chainlock review {}`), then sign again with --accept-warnings; \
                 nothing was signed",
                args.id
            );
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    };
    if args.json {
        print_json(&doc)?;
    } else {
        println!(
            "signed request {} with key {}; the signature is on the coordination remote",
            doc.request,
            doc.public_key.key_id()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `chainlock reject`.
#[derive(Debug, clap::Args)]
pub struct RejectArgs {
    /// The request id (a unique prefix of at least 8 hex digits).
    id: String,
    /// Why: the other maintainers will read it.
    #[arg(long)]
    reason: String,
    /// The key that signs the rejection: keychain://<key-id> or ledger://<path>.
    #[arg(long, value_name = "URI")]
    key: String,
    /// Use a Speculos emulator at HOST:PORT instead of a USB Ledger.
    #[arg(long, value_name = "HOST:PORT")]
    ledger_tcp: Option<String>,
}

/// Runs `chainlock reject`.
pub fn reject(args: RejectArgs) -> Result<ExitCode> {
    let ws = workspace()?;
    let mut options = OpenOptions::from_env();
    if args.ledger_tcp.is_some() {
        options.ledger_tcp = args.ledger_tcp;
    }
    let doc = ws.reject(&args.id, &args.reason, &args.key, &options, now())?;
    println!(
        "rejected request {} with key {}; the signed rejection is on the coordination remote",
        doc.request,
        doc.public_key.key_id()
    );
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `chainlock finalize`.
#[derive(Debug, clap::Args)]
pub struct FinalizeArgs {
    /// The request id (a unique prefix of at least 8 hex digits).
    id: String,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs `chainlock finalize`.
pub fn finalize(args: FinalizeArgs) -> Result<ExitCode> {
    let ws = workspace()?;
    let doc = ws.finalize(&args.id, now())?;
    if args.json {
        print_json(&doc)?;
    } else {
        println!(
            "request {} is final: transaction {} ({} by {})",
            doc.request,
            doc.txid,
            doc.status,
            ws.chain().describe()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `chainlock history`: exit 1 when the log's hash chain is broken.
pub fn history(args: JsonArgs) -> Result<ExitCode> {
    let ws = workspace()?;
    let h = ws.history()?;
    if args.json {
        print_json(&h)?;
    } else {
        if h.entries.is_empty() {
            println!("nothing signed or rejected yet on this machine");
        }
        for e in &h.entries {
            println!(
                "{}  {:6}  {}  request {}  key {}{}",
                utc_date(e.time),
                match e.action {
                    chainlock_cosign::history::Action::Sign => "signed",
                    chainlock_cosign::history::Action::Reject => "reject",
                },
                e.package,
                &e.request.to_hex()[..16],
                &e.key_id[..16],
                e.reason
                    .as_deref()
                    .map(|r| format!("  reason: {}", shown(r)))
                    .unwrap_or_default()
            );
        }
        match &h.broken {
            None => println!("hash chain: intact ({} entries)", h.entries.len()),
            Some(why) => println!("hash chain: BROKEN: {why}"),
        }
    }
    Ok(if h.broken.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 {
        one
    } else {
        many
    }
}

/// Arguments of `chainlock demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Where to build the demo (default: `demo` in the data directory).
    dir: Option<PathBuf>,
    /// Remove the demo: its keychain entries and its directory.
    #[arg(long)]
    clean: bool,
    /// Be "you" with a Ledger (Bitcoin Cash app open): its key at the default ChainLock path
    /// goes into the demo policy instead of a new keychain key.
    #[arg(long, conflicts_with = "clean")]
    ledger: bool,
    /// With --ledger: use a Speculos emulator at HOST:PORT instead of a USB Ledger (also
    /// CHAINLOCK_LEDGER_TCP).
    #[arg(long, value_name = "HOST:PORT", requires = "ledger")]
    ledger_tcp: Option<String>,
    /// Also put N generated source files in the package, each changed in 1.1.0: a big
    /// review to try (at most 100,000).
    #[arg(long, value_name = "N", default_value_t = 0, conflicts_with = "clean")]
    extra_files: usize,
}

/// Runs `chainlock demo`.
pub fn demo(args: DemoArgs) -> Result<ExitCode> {
    let dir = match args.dir {
        Some(d) => d,
        None => Paths::from_env()?.data_dir.join("demo"),
    };
    if args.clean {
        let removed = chainlock_cosign::demo::clean(&dir)?;
        println!(
            "removed {removed} demo {} from the keychain and {}",
            plural(removed, "key", "keys"),
            dir.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let options = chainlock_cosign::demo::DemoOptions {
        ledger: args.ledger.then(|| {
            let mut open = chainlock_signer::OpenOptions::from_env();
            if args.ledger_tcp.is_some() {
                open.ledger_tcp = args.ledger_tcp.clone();
            }
            open
        }),
        extra_files: args.extra_files,
    };
    let world =
        chainlock_cosign::demo::create_with(&dir, now(), &options, |step| println!("demo: {step}"));
    let world = match world {
        Err(err @ chainlock_cosign::Error::Signer(_)) if args.ledger => {
            return Err(anyhow::Error::new(err).context(
                "the demo with --ledger reads your key from the Ledger first, and could not",
            ))
        }
        other => other?,
    };
    let config = world.you.config_dir.display();
    let data = world.you.data_dir.display();
    println!();
    println!("The demo is ready (local ledger and demo keys: nothing here is real). Try:");
    println!("  export CHAINLOCK_CONFIG_DIR={config} CHAINLOCK_DATA_DIR={data}");
    println!("  chainlock pending                  # 1.1.0 needs your signature");
    println!(
        "  chainlock review {}     # every check passes; one builder disagrees",
        &world.pending.to_hex()[..16]
    );
    println!(
        "  chainlock review {}     # the tampered request: failing checks",
        &world.tampered.to_hex()[..16]
    );
    let key = if world.your_key_uri.starts_with("ledger://") {
        // The device shows each screen; `sign` lists them first, to compare one by one.
        world.your_key_uri.clone()
    } else {
        format!("keychain://{}", &world.your_key[..16])
    };
    println!(
        "  chainlock sign {} --key {key}",
        &world.pending.to_hex()[..16]
    );
    println!("  chainlock finalize {}", &world.pending.to_hex()[..16]);
    println!("  chainlock history");
    println!(
        "Remove it with: chainlock demo --clean {}",
        world.dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs `chainlock prove`: adds `proof.beef` to the record refs whose transactions are mined.
pub fn prove(args: JsonArgs) -> Result<ExitCode> {
    let ws = workspace()?;
    let results = ws.prove(now())?;
    if args.json {
        let rows: Vec<serde_json::Value> = results
            .iter()
            .map(|(package, digest, proved)| {
                serde_json::json!({"package": package, "record": digest, "result": format!("{proved:?}")})
            })
            .collect();
        print_json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    for (package, digest, proved) in &results {
        let what = match proved {
            chainlock_cosign::bundle::Proved::Added => "proof.beef added".to_string(),
            chainlock_cosign::bundle::Proved::Complete => "complete".to_string(),
            chainlock_cosign::bundle::Proved::NotMined => "not mined yet".to_string(),
            chainlock_cosign::bundle::Proved::Failed(e) => format!("FAILED: {e}"),
        };
        println!("{package} record {digest}: {what}");
    }
    Ok(ExitCode::SUCCESS)
}
