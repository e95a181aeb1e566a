//! A work queue whose workers run on every node of a cluster.
//!
//! ```text
//! nats-server -js -p 4222 &
//! warren run --cluster nats://127.0.0.1:4222 --node b --serve &    # no module: fetched
//! warren run --cluster nats://127.0.0.1:4222 --node c --serve &
//! warren run --cluster nats://127.0.0.1:4222 --node a work_queue.wasm 3 200
//! ```
//!
//! Node `a` waits for 3 nodes (itself included), starts a queue process holding 200 jobs
//! (count the primes below a bound), registers it under the global name `jobs`, and spawns
//! workers on every node: each looks the queue up by that name, asks it for a job, works,
//! reports, and asks again. The queue monitors every worker it handed a job: if the worker
//! dies — or its whole node does (`noconnection`) — the job goes back into the queue for
//! another. When all jobs are done, `a` prints who did how many and checks the answers.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;
use warren::node::{self, Node};
use warren::{Mailbox, Monitor, Process, Reply};

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
    /// A worker asks for work; `None` when there is none left.
    Next(Process<Worker>, Reply<Option<Job>>),
    /// A worker's answer.
    Done(Job, u64, String),
}

#[derive(Serialize, Deserialize)]
enum Worker {}

/// The queue: hands out jobs, takes results, re-queues a dead worker's job, and sends all
/// results to `owner` at the end.
fn queue((jobs, owner): (Vec<Job>, Process<Results>), mailbox: Mailbox<Queue>) {
    let total = jobs.len();
    let mut pending: VecDeque<Job> = jobs.into();
    let mut busy: HashMap<u64, (Job, Monitor)> = HashMap::new(); // worker pid -> job
    let mut done = BTreeMap::new();
    while done.len() < total {
        // Check the monitors of busy workers without waiting, then wait for a message.
        let dead: Vec<u64> = busy
            .iter()
            .filter_map(|(&pid, (_, m))| m.wait_timeout(Duration::ZERO).map(|_| pid))
            .collect();
        for pid in dead {
            if let Some((job, _)) = busy.remove(&pid) {
                pending.push_front(job);
            }
        }
        let Some(msg) = mailbox.receive_timeout(Duration::from_millis(50)) else {
            continue;
        };
        match msg {
            Queue::Next(worker, reply) => match pending.pop_front() {
                Some(job) => {
                    busy.insert(worker.pid(), (job, worker.monitor()));
                    reply.send(&Some(job));
                }
                None => {
                    reply.send(&None);
                }
            },
            Queue::Done(job, answer, node) => {
                for (pid, (j, _)) in busy.iter() {
                    if j.id == job.id {
                        let pid = *pid;
                        if let Some((_, m)) = busy.remove(&pid) {
                            m.cancel();
                        }
                        break;
                    }
                }
                done.insert(job.id, (answer, node));
            }
        }
    }
    owner.send(&done);
}

/// A worker: find the queue by its global name, then take jobs until there are none.
fn worker(_: (), _mailbox: Mailbox<Worker>) {
    let here = node::this().and_then(Node::name).unwrap_or_default();
    let Some(jobs) = node::whereis_global::<Queue>("jobs") else {
        return;
    };
    let me = Process::<Worker>::this();
    while let Ok(Some(job)) = jobs.request(|r| Queue::Next(me, r)) {
        let answer = primes_below(job.bound);
        jobs.send(&Queue::Done(job, answer, here.clone()));
    }
}

/// A worker on every node: here with `spawn`, elsewhere with `spawn_on`.
fn start_workers(nodes: &[Node], me: Node) {
    for &n in nodes {
        let spawned = if n == me {
            warren::spawn((), worker).map(|_| ())
        } else {
            node::spawn_on(n, (), worker).map(|_| ())
        };
        if let Err(e) = spawned {
            eprintln!("no worker on {:?}: {e}", n.name());
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let want: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(3);
    let count: u32 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(200);
    let workers_per_node = 2;

    let Some(me) = node::this() else {
        eprintln!(
            "work_queue runs in a cluster: warren run --cluster URL --node a work_queue.wasm"
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
    for _ in 0..workers_per_node {
        start_workers(&nodes, me);
    }
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
