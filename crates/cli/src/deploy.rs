//! `warren deploy`: load a new version of the program on every node of a cluster (hot code
//! upgrade; the runtime's `cluster::deploy` has the model).
//!
//! The module goes into the cluster's module bucket, a deploy record sealed with the
//! cluster's secret names it, and every node loads it as its current version and says what
//! came of it. The command prints one line per node that was up and exits 0 only if every
//! one loaded it.

use anyhow::Context as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use warren_runtime::{ClusterConfig, ClusterSecret};

#[derive(clap::Args)]
pub(crate) struct DeployArgs {
    /// The new version of the program: a core wasm module (wasm32-wasip1), binary or text.
    app: PathBuf,
    /// The cluster's NATS server, e.g. nats://127.0.0.1:4222 (as the nodes' --cluster).
    #[arg(long, value_name = "URL")]
    cluster: String,
    /// The cluster's secret (as the nodes' --cluster-secret): the deploy record is sealed
    /// with it, and nodes take no other.
    #[arg(long, value_name = "FILE", conflicts_with = "cluster_insecure")]
    cluster_secret: Option<PathBuf>,
    /// Deploy to a cluster that runs without authentication (its nodes run with
    /// --cluster-insecure). Warns.
    #[arg(long)]
    cluster_insecure: bool,
    /// A NATS credentials file (.creds) for the cluster's server.
    #[arg(long, value_name = "FILE")]
    cluster_creds: Option<PathBuf>,
    /// Root certificates (PEM) to trust for the cluster's server.
    #[arg(long, value_name = "FILE")]
    cluster_ca: Option<PathBuf>,
    /// A client certificate (PEM) for the cluster's server, with --cluster-key.
    #[arg(long, value_name = "FILE", requires = "cluster_key")]
    cluster_cert: Option<PathBuf>,
    /// The key (PEM) of --cluster-cert.
    #[arg(long, value_name = "FILE", requires = "cluster_cert")]
    cluster_key: Option<PathBuf>,
    /// Deploy to this node only (repeatable): a rolling deploy is one `warren deploy --node`
    /// per node, a canary one for a few. The others keep their version (but load this one
    /// when a spawn names it). Default: every node.
    #[arg(long = "node", value_name = "NAME")]
    nodes: Vec<String>,
    /// Who deploys, as the nodes log it.
    #[arg(long, value_name = "NAME", default_value = "deploy")]
    name: String,
    /// How long to wait for every node's answer.
    #[arg(long, value_name = "TIME", default_value = "60s", value_parser = crate::parse_duration)]
    wait: Duration,
}

/// Exit status when some node did not load the version (or did not answer).
const EXIT_NOT_EVERYWHERE: u8 = 1;

pub(crate) fn deploy(args: DeployArgs) -> anyhow::Result<ExitCode> {
    let module =
        std::fs::read(&args.app).with_context(|| format!("cannot read {}", args.app.display()))?;
    let mut config = ClusterConfig::new(args.cluster.clone(), args.name.clone());
    config.secret = args
        .cluster_secret
        .as_deref()
        .map(|f| {
            ClusterSecret::from_file(f).map_err(|e| anyhow::anyhow!("--cluster-secret: {e:#}"))
        })
        .transpose()?;
    config.insecure = args.cluster_insecure;
    config.creds = args.cluster_creds.clone();
    config.tls_ca = args.cluster_ca.clone();
    config.tls_client = args.cluster_cert.clone().zip(args.cluster_key.clone());
    if config.insecure {
        eprintln!(
            "warren deploy: WITHOUT AUTHENTICATION: the nodes cannot tell this deploy from \
             anyone else's"
        );
    }
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting tokio")?;
    let deployed = tokio
        .block_on(warren_runtime::deploy(
            &config,
            module,
            &args.nodes,
            args.wait,
        ))
        .map_err(|e| anyhow::anyhow!("--cluster {}: {e:#}", crate::redact(&args.cluster)))?;
    let hash: String = deployed.hash.iter().map(|b| format!("{b:02x}")).collect();
    println!(
        "deployed {} ({}) to {} node{}",
        args.app.display(),
        &hash[..12],
        deployed.nodes.len(),
        if deployed.nodes.len() == 1 { "" } else { "s" }
    );
    for n in &deployed.nodes {
        if n.node == 0 {
            let why = match &n.result {
                Some(Err(why)) => why.as_str(),
                _ => "not up",
            };
            println!("node {}: not loaded: {why}", n.name);
            continue;
        }
        match &n.result {
            Some(Ok(text)) => println!("node {} ({}): {text}", n.node, n.name),
            Some(Err(why)) => println!("node {} ({}): not loaded: {why}", n.node, n.name),
            None => println!(
                "node {} ({}): no answer within {:?}",
                n.node, n.name, args.wait
            ),
        }
    }
    if deployed.nodes.is_empty() {
        println!("no node was up: each loads it when a spawn names it, or with its next deploy");
    }
    Ok(if deployed.everywhere() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_NOT_EVERYWHERE)
    })
}
