//! The publisher's commands: `init` (policy, genesis request), `fund` (custody top-ups),
//! `request create` (a release request), `pin` (`.chainlock/genesis` once final), and
//! `attest publish` for builders. A few lines each over `chainlock_cosign::publisher`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use chainlock_chain::{LocalLedger, PackageId};
use chainlock_cosign::coord::Coord;
use chainlock_cosign::publisher::{
    self, GenesisPin, Publisher, DEFAULT_CUSTODY_SATS, DEFAULT_LIFETIME_SECS,
};
use chainlock_cosign::workspace::now;
use chainlock_cosign::{ChainConfig, Paths};
use chainlock_protocol::keys::PublicKey;
use chainlock_protocol::policy::Policy;
use chainlock_protocol::record::Record;
use chainlock_signer::OpenOptions;

use super::cosign::workspace;

/// Options every publisher command shares.
#[derive(Debug, clap::Args)]
pub struct PublisherOptions {
    /// The package's repository (its work tree).
    #[arg(long, value_name = "DIR", default_value = ".")]
    repo: PathBuf,
    /// The coordination remote; by default the repository's `origin`.
    #[arg(long, value_name = "URL")]
    remote: Option<String>,
    /// Your maintainer key, which signs the request statement: keychain://ID or ledger://PATH.
    #[arg(long, value_name = "URI")]
    key: String,
    /// The keychain key (id or prefix) whose P2PKH coins pay for custody outputs; change
    /// returns to it.
    #[arg(long, value_name = "KEY_ID")]
    funding_key: String,
}

impl PublisherOptions {
    fn remote(&self) -> Result<String> {
        if let Some(r) = &self.remote {
            return Ok(r.clone());
        }
        Ok(publisher::origin_url(&self.repo)?)
    }

    fn publisher<'a>(
        &self,
        chain: &'a dyn chainlock_chain::Chain,
        package: &str,
    ) -> Result<Publisher<'a>> {
        let paths = Paths::from_env()?;
        let remote = self.remote()?;
        let coord = Coord::open(&paths.mirror(package), &remote)?;
        coord.fetch()?;
        let key = if self.key.contains("://") {
            self.key.clone()
        } else {
            format!("keychain://{}", self.key)
        };
        Ok(Publisher {
            chain,
            config_dir: paths.config_dir,
            coord,
            publisher_key: key,
            funding_key: self.funding_key.clone(),
            options: OpenOptions::from_env(),
        })
    }
}

/// Arguments of `chainlock init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The package, as `ecosystem:name` (`npm:left-pad`, `pypi:requests`, `crates:serde`).
    #[arg(long, value_name = "ECOSYSTEM:NAME")]
    package: String,
    /// A maintainer's public key (from `chainlock key show`); repeat for each (n <= 3).
    #[arg(long = "maintainer", value_name = "HEX", required = true)]
    maintainers: Vec<String>,
    /// Co-signatures a record needs (m).
    #[arg(long)]
    threshold: u8,
    /// A trusted builder's Ed25519 public key (from `chainlock builder key show`); repeat.
    #[arg(long = "builder", value_name = "HEX")]
    builders: Vec<String>,
    /// Distinct trusted builders that must agree on an artifact.
    #[arg(long, default_value_t = 1)]
    min_builders: u32,
    /// Seconds a release waits for challenges.
    #[arg(long, default_value_t = 86_400)]
    challenge_window: u64,
    /// On the LOCAL ledger only: first credit the funding key with this many test satoshis.
    #[arg(long, value_name = "SATOSHIS")]
    faucet: Option<u64>,
    #[command(flatten)]
    options: PublisherOptions,
}

/// Runs `chainlock init`: writes the policy, tops up custody if needed, publishes the
/// genesis request.
pub fn init(args: InitArgs) -> Result<ExitCode> {
    let package = package_arg(&args.package)?;
    let mut maintainers = Vec::new();
    for m in &args.maintainers {
        maintainers.push(PublicKey::from_hex(m).with_context(|| {
            format!("--maintainer {m:?} is not a compressed public key: copy it from `chainlock key show`")
        })?);
    }
    for b in &args.builders {
        chainlock_attest::BuilderPublicKey::from_hex("--builder", b).with_context(|| {
            format!("--builder {b:?} is not an Ed25519 public key: copy it from `chainlock builder key show`")
        })?;
    }
    let policy = Policy::new(
        maintainers,
        args.threshold,
        args.builders.clone(),
        args.min_builders,
        args.challenge_window,
    )
    .context("the policy is not valid (see docs/protocol.md section 6)")?;
    let ws = workspace()?;
    let publisher = args.options.publisher(ws.chain(), &package.to_string())?;
    if let Some(sats) = args.faucet {
        faucet(&ws, &publisher, sats)?;
    }
    let path = publisher::write_policy(&args.options.repo, &policy)?;
    println!("wrote {} (policy {})", path.display(), policy.digest()?);
    ensure_custody(&publisher, &policy)?;
    let genesis = Publisher::genesis(&package, &policy);
    let req = publisher.request(genesis, &policy, vec![], now(), DEFAULT_LIFETIME_SECS)?;
    println!(
        "published genesis request {} on {}",
        req.id()?,
        publisher.coord.remote_url()
    );
    println!(
        "next: {} of the maintainers run `chainlock watch add {} --clone <dir>`, `chainlock \
         review` and `chainlock sign` it; then `chainlock finalize` and `chainlock pin`",
        policy.threshold,
        publisher.coord.remote_url()
    );
    Ok(ExitCode::SUCCESS)
}

/// Credits the funding key with test satoshis on the local ledger.
fn faucet(ws: &chainlock_cosign::Workspace, publisher: &Publisher<'_>, sats: u64) -> Result<()> {
    let ChainConfig::Local { path } = &ws.config().chain else {
        anyhow::bail!(
            "the faucet exists only on the local chain, and this workspace uses {}: fund the funding key with real coins instead",
            ws.chain().describe()
        );
    };
    let ledger_path = path.clone().unwrap_or_else(|| ws.paths().default_ledger());
    let ledger = LocalLedger::open(&ledger_path)?;
    let (script, _) = publisher.funding_script()?;
    let tx = ledger.faucet(&script, sats)?;
    println!(
        "LOCAL faucet: {sats} test satoshis (not real coins) to the funding key in {}",
        tx.txid()
    );
    Ok(())
}

fn ensure_custody(publisher: &Publisher<'_>, policy: &Policy) -> Result<()> {
    let custody = policy.custody_script()?;
    if publisher.chain.unspent_outputs(&custody)?.is_empty() {
        let tx = publisher.fund(policy, 3, DEFAULT_CUSTODY_SATS)?;
        println!(
            "topped up custody: {} outputs of {DEFAULT_CUSTODY_SATS} satoshis in {}",
            3,
            tx.txid()
        );
    }
    Ok(())
}

/// Arguments of `chainlock fund`.
#[derive(Debug, clap::Args)]
pub struct FundArgs {
    /// On the LOCAL ledger only: first credit the funding key with this many satoshis out of
    /// nothing (test coins, worth nothing, never on the BSV network).
    #[arg(long, value_name = "SATOSHIS")]
    faucet: Option<u64>,
    /// How many custody outputs to create.
    #[arg(long, default_value_t = 3)]
    outputs: usize,
    /// Satoshis in each.
    #[arg(long, default_value_t = DEFAULT_CUSTODY_SATS)]
    satoshis: u64,
    /// The package (`ecosystem:name`) whose policy (`.chainlock/policy.json`) the outputs are for.
    #[arg(long, value_name = "ECOSYSTEM:NAME")]
    package: String,
    #[command(flatten)]
    options: PublisherOptions,
}

/// Runs `chainlock fund`.
pub fn fund(args: FundArgs) -> Result<ExitCode> {
    let ws = workspace()?;
    let publisher = args.options.publisher(ws.chain(), &args.package)?;
    if let Some(sats) = args.faucet {
        faucet(&ws, &publisher, sats)?;
    }
    let policy = publisher::read_policy(&args.options.repo)?;
    let tx = publisher.fund(&policy, args.outputs, args.satoshis)?;
    println!(
        "top-up {}: {} custody {} of {} satoshis for policy {}",
        tx.txid(),
        args.outputs,
        if args.outputs == 1 {
            "output"
        } else {
            "outputs"
        },
        args.satoshis,
        policy.digest()?
    );
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `chainlock request create`.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// The release tag in the repository.
    #[arg(long)]
    tag: String,
    /// The artifact as it will be published.
    #[arg(long, value_name = "FILE")]
    artifact: PathBuf,
    /// The package (`ecosystem:name`).
    #[arg(long, value_name = "ECOSYSTEM:NAME")]
    package: String,
    /// The repository URL the record names; by default the coordination remote.
    #[arg(long, value_name = "URL")]
    repository_url: Option<String>,
    /// How long co-signers have, in hours (at most 168: PROTOCOL.md section 7).
    #[arg(long, default_value_t = 72)]
    hours: u64,
    #[command(flatten)]
    options: PublisherOptions,
}

/// Runs `chainlock request create`.
pub fn create(args: CreateArgs) -> Result<ExitCode> {
    check_hours(args.hours)?;
    let package = package_arg(&args.package)?;
    let ws = workspace()?;
    let publisher = args.options.publisher(ws.chain(), &package.to_string())?;
    let url = match &args.repository_url {
        Some(u) => u.clone(),
        None => args.options.remote()?,
    };
    let (record, policy, envelopes) = publisher.release(
        &package,
        &args.options.repo,
        &url,
        &args.tag,
        &args.artifact,
    )?;
    let req = publisher.request(record, &policy, envelopes, now(), args.hours * 3600)?;
    let Record::Release(r) = &req.record else {
        bail!("internal: not a release record");
    };
    println!(
        "published request {} for {} {}",
        req.id()?,
        package,
        r.version
    );
    println!(
        "  range {}..{}  diff digest {}",
        short(&r.source.base_commit),
        short(&r.source.commit),
        r.diff_digest
    );
    println!(
        "  artifact {} ({} bytes, sha256 {})",
        r.artifact.name, r.artifact.size, r.artifact.sha256
    );
    println!(
        "  {} attestations relied on, digest {}",
        req.attestations.len(),
        r.attestation_digest
    );
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `chainlock pin`.
#[derive(Debug, clap::Args)]
pub struct PinArgs {
    /// The package's repository (its work tree).
    #[arg(long, value_name = "DIR", default_value = ".")]
    repo: PathBuf,
    /// The package (`ecosystem:name`).
    #[arg(long, value_name = "ECOSYSTEM:NAME")]
    package: String,
}

/// Runs `chainlock pin`: writes `.chainlock/genesis` once the genesis is on the chain.
pub fn pin(args: PinArgs) -> Result<ExitCode> {
    let package = package_arg(&args.package)?;
    let ws = workspace()?;
    let chain = ws.chain().record_chain(&package)?;
    let Some(genesis) = chain.genesis() else {
        bail!(
            "{package} has no genesis on {} yet: finalize its genesis request first",
            ws.chain().describe()
        );
    };
    let path = publisher::write_pin(
        &args.repo,
        &GenesisPin {
            record: genesis.digest,
            txid: Some(genesis.txid.to_string()),
        },
    )?;
    println!(
        "wrote {}: genesis {} in transaction {}; commit it, so every clone pins it",
        path.display(),
        genesis.digest,
        genesis.txid
    );
    Ok(ExitCode::SUCCESS)
}

/// Publishes a builder's envelope to `refs/chainlock/attest/<commit>/<builder-key-id>`.
pub fn publish_attestation(envelope: &Path, remote: &str) -> Result<ExitCode> {
    let bytes =
        std::fs::read(envelope).with_context(|| format!("cannot read {}", envelope.display()))?;
    let env = chainlock_attest::dsse::parse(&bytes)?;
    let key_id = chainlock_attest::dsse::signer_key_id(&env)?.to_string();
    let payload = chainlock_attest::dsse::payload_bytes(&env)?;
    let commit = chainlock_attest::statement::Statement::from_payload(&payload)?
        .check()?
        .commit;
    let paths = Paths::from_env()?;
    let coord = Coord::open(
        &paths.data_dir.join("coordination").join("attest.git"),
        remote,
    )?;
    coord.publish(
        &format!("refs/chainlock/attest/{commit}/{key_id}"),
        &[("envelope.json", &bytes)],
        "chainlock: attestation",
    )?;
    println!("published the attestation of commit {commit} by builder {key_id} to {remote}");
    Ok(ExitCode::SUCCESS)
}

fn short(hex: &str) -> &str {
    hex.get(..12).unwrap_or(hex)
}

/// Arguments of `chainlock rotate`.
#[derive(Debug, clap::Args)]
pub struct RotateArgs {
    /// The package (`ecosystem:name`).
    #[arg(long, value_name = "ECOSYSTEM:NAME")]
    package: String,
    /// The new policy (JSON, section 6).
    #[arg(long, value_name = "FILE")]
    policy: PathBuf,
    /// How long co-signers have, in hours (at most 168).
    #[arg(long, default_value_t = 72)]
    hours: u64,
    #[command(flatten)]
    options: PublisherOptions,
}

/// Runs `chainlock rotate`: a rotation request, co-signed by m of the policy in force.
pub fn rotate(args: RotateArgs) -> Result<ExitCode> {
    check_hours(args.hours)?;
    let package = package_arg(&args.package)?;
    let bytes = std::fs::read(&args.policy)
        .with_context(|| format!("cannot read the new policy {}", args.policy.display()))?;
    let new = Policy::from_json(&bytes)
        .with_context(|| format!("{} is not a valid policy", args.policy.display()))?;
    let ws = workspace()?;
    let publisher = args.options.publisher(ws.chain(), &package.to_string())?;
    let (record, old) = publisher.rotation(&package, &new)?;
    let req = publisher.request(record, &old, vec![], now(), args.hours * 3600)?;
    println!("published rotation request {} for {package}", req.id()?);
    for change in chainlock_cosign::rotation::policy_changes(&old, &new) {
        println!("  {change}");
    }
    println!(
        "next: {} of the current maintainers review, sign and finalize it; after that only the new policy's keys count",
        old.threshold
    );
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `chainlock publish`.
#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// The package (`ecosystem:name`).
    #[arg(long, value_name = "ECOSYSTEM:NAME")]
    package: String,
    /// The release tag in the repository.
    #[arg(long)]
    tag: String,
    /// The artifact as it will be published, built beforehand from the tag (or give --build).
    #[arg(long, value_name = "FILE", conflicts_with = "build")]
    artifact: Option<PathBuf>,
    /// Build the artifact from the tag's commit as the builders do: a fresh clone of the
    /// repository URL, this command run by `/bin/sh -c` in the build sandbox.
    #[arg(long, value_name = "COMMAND", requires = "artifact_glob")]
    build: Option<String>,
    /// With --build: the glob (relative to the checkout) matching the one artifact.
    #[arg(long, value_name = "GLOB", requires = "build")]
    artifact_glob: Option<String>,
    /// With --build: where the artifact is written (never replacing a file).
    #[arg(long, value_name = "DIR", default_value = ".", requires = "build")]
    out_dir: PathBuf,
    /// The repository URL the record names; by default the coordination remote.
    #[arg(long, value_name = "URL")]
    repository_url: Option<String>,
    /// How long co-signers have, in hours (at most 168).
    #[arg(long, default_value_t = 72)]
    hours: u64,
    /// How long to wait, in seconds, for attestations, then signatures, then the block.
    #[arg(long, default_value_t = 24 * 3600)]
    wait_secs: u64,
    /// Seconds between two looks at the coordination remote and the chain.
    #[arg(long, default_value_t = 30)]
    poll_secs: u64,
    #[command(flatten)]
    options: PublisherOptions,
}

/// Runs `chainlock publish`: waits for the builders' attestations, requests, waits for m
/// co-signatures (saying who signed), finalizes, waits for the block, and says where the
/// bundle is and when the challenge window closes.
pub fn publish(args: PublishArgs) -> Result<ExitCode> {
    check_hours(args.hours)?;
    let package = package_arg(&args.package)?;
    let ws = workspace()?;
    ws.config().find(&package.to_string()).with_context(|| {
        format!("watch {package} first (`chainlock watch add <remote> --clone <dir>`): publish finalizes through your workspace")
    })?;
    let publisher = args.options.publisher(ws.chain(), &package.to_string())?;
    let url = match &args.repository_url {
        Some(u) => u.clone(),
        None => args.options.remote()?,
    };
    let artifact = match (&args.artifact, &args.build) {
        (Some(file), None) => file.clone(),
        (None, Some(command)) => build_artifact(&args, &url, command)?,
        _ => bail!(
            "give the artifact: --artifact FILE (built beforehand from {}), or --build COMMAND \
             --artifact-glob GLOB to build it from the tag in the build sandbox",
            args.tag
        ),
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(args.wait_secs);
    let pause = std::time::Duration::from_secs(args.poll_secs.max(1));
    let waited_too_long = |what: &str| -> Result<()> {
        if std::time::Instant::now() >= deadline {
            bail!("gave up waiting for {what} after {} s (--wait-secs); run `chainlock publish` again later", args.wait_secs);
        }
        std::thread::sleep(pause);
        Ok(())
    };
    // 1. The trusted builders' attestations for the tag's commit.
    let (record, policy, envelopes) = loop {
        publisher.coord.fetch()?;
        let (record, policy, envelopes) =
            publisher.release(&package, &args.options.repo, &url, &args.tag, &artifact)?;
        if envelopes.len() as u64 >= u64::from(policy.min_builders) {
            println!(
                "{} builder attestation(s) agree on the artifact",
                envelopes.len()
            );
            break (record, policy, envelopes);
        }
        println!(
            "waiting for attestations: {} of {} trusted builders agree so far",
            envelopes.len(),
            policy.min_builders
        );
        waited_too_long("attestations")?;
    };
    // 2. The request.
    let req = publisher.request(record, &policy, envelopes, now(), args.hours * 3600)?;
    let id = req.id()?.to_hex();
    println!("published request {id}");
    // 3. m co-signatures.
    let mut seen: Vec<String> = Vec::new();
    loop {
        ws.sync()?;
        let state = ws
            .requests()?
            .into_iter()
            .find(|p| p.request == id)
            .context("the request vanished from the coordination remote")?;
        for key in &state.signed_by {
            if !seen.contains(key) {
                println!(
                    "signed by {key} ({} of {})",
                    seen.len() + 1,
                    state.threshold
                );
                seen.push(key.clone());
            }
        }
        if !state.rejected_by.is_empty() {
            bail!(
                "rejected by {}: see `chainlock review {id}`",
                state.rejected_by.join(", ")
            );
        }
        if state.finalized || seen.len() >= usize::from(state.threshold) {
            break;
        }
        waited_too_long("co-signatures")?;
    }
    // 4. Finalize and broadcast.
    let doc = ws.finalize(&id, now())?;
    println!("broadcast transaction {} ({})", doc.txid, doc.status);
    // 5. The block.
    let txid = chainlock_protocol::tx::Txid::from_display_hex(&doc.txid)?;
    let block_time = loop {
        match ws.chain().tx_status(&txid)? {
            chainlock_chain::TxStatus::Mined { height, block_time } => {
                println!("mined at height {height}");
                break block_time;
            }
            chainlock_chain::TxStatus::Rejected { reason } => {
                bail!("the chain refused it: {reason}")
            }
            _ => waited_too_long("the block")?,
        }
    };
    let digest = req.record.digest()?;
    println!("bundle: refs/chainlock/record/{digest} (record.json, tx.hex, proof.beef)");
    println!(
        "the challenge window closes {}",
        chainlock_protocol::text::utc_date(block_time + policy.challenge_window_secs)
    );
    Ok(ExitCode::SUCCESS)
}

/// Builds the artifact from the tag's commit with `chainlock-attest`'s rebuild (a fresh clone
/// of `url`, the scrubbed environment, the bubblewrap sandbox): what the builders attest is
/// what is published, built the same way.
fn build_artifact(args: &PublishArgs, url: &str, command: &str) -> Result<PathBuf> {
    use chainlock_attest::rebuild::{rebuild_keeping, RebuildSpec, DEFAULT_BUILD_TIMEOUT};
    let spec = RebuildSpec {
        repository: url.to_string(),
        commit: args.tag.clone(),
        command: command.to_string(),
        artifact: args.artifact_glob.clone().unwrap_or_default(),
        timeout: DEFAULT_BUILD_TIMEOUT,
        sandbox: chainlock_attest::sandbox::Sandbox::default(),
    };
    std::fs::create_dir_all(&args.out_dir)
        .with_context(|| format!("cannot create {}", args.out_dir.display()))?;
    let (facts, path) = rebuild_keeping(&spec, &args.out_dir).with_context(|| {
        format!(
            "building {} from {url} failed; nothing was published",
            args.tag
        )
    })?;
    println!(
        "built {} from {} (commit {}) in the build sandbox: sha256 {}",
        path.display(),
        args.tag,
        facts.commit,
        hex::encode(facts.artifact_sha256)
    );
    Ok(path)
}

/// The `--package` argument: `ecosystem:name`.
fn package_arg(text: &str) -> Result<PackageId> {
    text.parse().map_err(|_| {
        anyhow::anyhow!(
            "--package {} must be ecosystem:name, e.g. npm:left-pad",
            chainlock_protocol::text::quoted(text)
        )
    })
}

/// A request's lifetime in hours: 1 to 168 (PROTOCOL.md section 7).
fn check_hours(hours: u64) -> Result<()> {
    if hours == 0 || hours > 168 {
        bail!("--hours must be 1 to 168: a request may be valid for at most 7 days");
    }
    Ok(())
}
