//! A work queue whose workers run on every node of a cluster.
//!
//! ```text
//! nats-server -js -a 127.0.0.1 -p 4222 &
//! warren cluster-secret s.secret                  # every node holds the same secret
//! warren run --cluster nats://127.0.0.1:4222 --node b --cluster-secret s.secret --serve &
//! warren run --cluster nats://127.0.0.1:4222 --node c --cluster-secret s.secret --serve &
//! warren run --cluster nats://127.0.0.1:4222 --node a --cluster-secret s.secret \
//!     work_queue.wasm 3 200
//! ```
//!
//! Node `a` waits for 3 nodes (itself included), starts a queue process holding 200 jobs
//! (count the primes below a bound), registers it under the global name `jobs`, and spawns
//! workers on every node: each looks the queue up by that name, asks it for a job, works,
//! reports, and asks again. The queue waits until every worker has asked once (so every node
//! gets work; it prints `working: N workers`), and monitors every worker: if one dies — or its
//! whole node does (`noconnection`) — its job goes back into the queue for another. When all
//! jobs are done, `a` prints who did how many and checks a sample of the answers.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;
use warren::node::{self, Node};
use warren::{Mailbox, Monitor, Process, Reply, resume_point, upgrade};

/// Count the primes below `bound` (the work: plain computation).
fn primes_below(bound: u64) -> u64 {
    (2..bound)
        .filter(|&n| (2..).take_while(|d| d * d <= n).all(|d| n % d != 0))
        .count() as u64
}

/// The answers by job: the count, and the node that computed it.
type Results = BTreeMap<u32, (u64, String)>;

#[derive(Serialize, Deserialize, Clone, Copy, Debug)]
struct Job {
    id: u32,
    bound: u64,
}

#[derive(Serialize, Deserialize)]
enum Queue {
    /// A worker asks for work; `None` once every job is done (while some are still out, the
    /// answer waits: one may come back).
    Next(Process<Worker>, Reply<Option<Job>>),
    /// A worker's answer.
    Done(Job, u64, String),
    /// The workers started: hand out the first jobs once each has asked (or died).
    Start(Vec<Process<Worker>>),
}

#[derive(Serialize, Deserialize)]
enum Worker {}

/// The queue: waits until every worker asked for its first job (so every node gets work),
/// then hands out jobs, takes results, re-queues the job of a worker that dies — or whose
/// node does — and sends all results to `owner` at the end. A worker is told there is no
/// more work only when every job is done: until then a job out on a node that dies may come
/// back, and a worker must still be there to take it.
fn queue((jobs, owner): (Vec<Job>, Process<Results>), mailbox: Mailbox<Queue>) {
    let total = jobs.len();
    let mut pending: VecDeque<Job> = jobs.into();
    let mut workers: HashMap<u64, Monitor> = HashMap::new(); // every live worker, watched
    let mut busy: HashMap<u64, Job> = HashMap::new(); // worker pid -> its job
    let mut asking: Vec<(Process<Worker>, Reply<Option<Job>>)> = Vec::new();
    let mut started = false;
    let mut done = BTreeMap::new();
    while done.len() < total {
        // Workers that died (their DOWN, noconnection for a node's) give their job back.
        let dead: Vec<u64> = workers
            .iter()
            .filter_map(|(&pid, m)| m.wait_timeout(Duration::ZERO).map(|_| pid))
            .collect();
        for pid in dead {
            workers.remove(&pid);
            asking.retain(|(w, _)| w.pid() != pid);
            if let Some(job) = busy.remove(&pid) {
                pending.push_front(job);
            }
        }
        if !started && !workers.is_empty() && asking.len() == workers.len() {
            started = true;
            println!("working: {} workers", workers.len());
        }
        if started {
            // A worker that asks when no job is pending waits: a job still out comes back
            // if its worker dies, and someone must be there to take it.
            while !asking.is_empty() {
                let Some(job) = pending.pop_front() else {
                    break;
                };
                let (worker, reply) = asking.remove(0);
                busy.insert(worker.pid(), job);
                reply.send(&Some(job));
            }
        }
        let Some(msg) = mailbox.receive_timeout(Duration::from_millis(20)) else {
            continue;
        };
        match msg {
            Queue::Start(list) => {
                for w in list {
                    workers.insert(w.pid(), w.monitor());
                }
            }
            Queue::Next(worker, reply) => asking.push((worker, reply)),
            Queue::Done(job, answer, node) => {
                busy.retain(|_, j| j.id != job.id);
                done.insert(job.id, (answer, node));
            }
        }
    }
    // Every job is done: the workers still waiting for one may go.
    for (_, reply) in asking {
        reply.send(&None);
    }
    owner.send(&done);
}

/// A worker: find the queue by its global name, then take jobs until there are none.
/// After each job it moves to a newer version of the program if one was loaded
/// (`warren deploy`): the same process, the new code.
fn worker(_: (), _mailbox: Mailbox<Worker>) {
    let here = node::this().and_then(Node::name).unwrap_or_default();
    let signed = if cfg!(feature = "v2") {
        format!("{here} (version 2)")
    } else {
        here
    };
    let Some(jobs) = node::whereis_global::<Queue>("jobs") else {
        return;
    };
    let me = Process::<Worker>::this();
    while let Ok(Some(job)) = jobs.request(|r| Queue::Next(me, r)) {
        let answer = primes_below(job.bound);
        jobs.send(&Queue::Done(job, answer, signed.clone()));
        upgrade::checkpoint((), worker);
    }
}
resume_point!(worker);

/// A worker on every node: on the others with `spawn_on` (each call waits for its node to
/// answer; a node started without the module fetches it now), then here.
fn start_workers(nodes: &[Node], me: Node) -> Vec<Process<Worker>> {
    let mut started = Vec::new();
    for &n in nodes.iter().filter(|&&n| n != me) {
        match node::spawn_on(n, (), worker) {
            Ok(w) => started.push(w),
            Err(e) => eprintln!("no worker on {:?}: {e}", n.name()),
        }
    }
    started.push(warren::spawn((), worker).expect("a worker here"));
    started
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let want: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(3);
    let count: u32 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(200);
    let workers_per_node = 2;

    let Some(me) = node::this() else {
        eprintln!(
            "work_queue runs in a cluster: warren run --cluster URL --node a --cluster-secret \
             FILE work_queue.wasm"
        );
        std::process::exit(2);
    };
    // Wait for the other nodes.
    let mut others = node::list();
    for _ in 0..500 {
        if others.len() + 1 >= want {
            break;
        }
        warren::sleep(Duration::from_millis(20));
        others = node::list();
    }
    let mut nodes = vec![me];
    nodes.extend(others);
    let mut names: Vec<String> = nodes.iter().filter_map(|n| n.name()).collect();
    names.sort();
    println!("{} nodes: {}", nodes.len(), names.join(", "));

    let jobs: Vec<Job> = (0..count)
        .map(|id| Job {
            id,
            bound: 20_000 + 50 * id as u64,
        })
        .collect();
    let results: Mailbox<Results> = Mailbox::this();
    let owner = Process::this();
    let q = warren::spawn(
        (jobs.clone(), owner),
        queue as fn((Vec<Job>, Process<Results>), Mailbox<Queue>),
    )
    .expect("spawn the queue");
    q.register_global("jobs").expect("register the queue");
    let mut workers = Vec::new();
    for _ in 0..workers_per_node {
        workers.extend(start_workers(&nodes, me));
    }
    q.send(&Queue::Start(workers));
    let done = results.receive();
    let mut by_node: BTreeMap<String, usize> = BTreeMap::new();
    for (_, node) in done.values() {
        *by_node.entry(node.clone()).or_default() += 1;
    }
    // Check a sample of the answers here.
    let wrong = jobs
        .iter()
        .step_by(25)
        .filter(|j| done.get(&j.id).map(|(a, _)| *a) != Some(primes_below(j.bound)))
        .count();
    println!(
        "{} jobs done, {wrong} wrong in a sample of {}",
        done.len(),
        jobs.len().div_ceil(25)
    );
    let split: Vec<String> = by_node.iter().map(|(n, c)| format!("{n} {c}")).collect();
    println!("by node: {}", split.join(", "));
}
