//! Rust's std::thread on musl (built by tests/threads.rs with
//! `rustc --target x86_64-unknown-linux-musl -O`, a static binary): spawn
//! and join with values, Arc<Mutex>, mpsc channels, Barrier, Condvar,
//! scoped threads, atomics, thread_local, a panicking thread caught at
//! join, named threads. Prints only what is the same on every run.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier, Condvar, Mutex};
use std::thread;

thread_local! {
    static MINE: Cell<u64> = const { Cell::new(7) };
}

fn main() {
    let sums: Vec<u64> = (0..4u64)
        .map(|i| thread::spawn(move || (0..=1000 * (i + 1)).sum::<u64>()))
        .map(|h| h.join().unwrap())
        .collect();
    println!("spawn/join values: {sums:?}");

    let counter = Arc::new(Mutex::new(0u64));
    let hs: Vec<_> = (0..4)
        .map(|_| {
            let c = Arc::clone(&counter);
            thread::spawn(move || {
                for _ in 0..50_000 {
                    *c.lock().unwrap() += 1;
                }
            })
        })
        .collect();
    hs.into_iter().for_each(|h| h.join().unwrap());
    println!("Arc<Mutex> counter: {}", counter.lock().unwrap());

    let (tx, rx) = mpsc::channel();
    for id in 0..3u64 {
        let tx = tx.clone();
        thread::spawn(move || {
            for k in 0..1000 {
                tx.send(id * 1000 + k).unwrap();
            }
        });
    }
    drop(tx);
    let total: u64 = rx.iter().sum();
    println!("mpsc from 3 senders: {total}");

    let barrier = Arc::new(Barrier::new(4));
    let leaders = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..4)
        .map(|_| {
            let (b, l) = (Arc::clone(&barrier), Arc::clone(&leaders));
            thread::spawn(move || {
                for _ in 0..3 {
                    if b.wait().is_leader() {
                        l.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    hs.into_iter().for_each(|h| h.join().unwrap());
    println!("barrier: 3 rounds, leaders {}", leaders.load(Ordering::SeqCst));

    let pair = Arc::new((Mutex::new(0u32), Condvar::new()));
    let p2 = Arc::clone(&pair);
    let ponger = thread::spawn(move || {
        let (m, cv) = &*p2;
        let mut n = m.lock().unwrap();
        while *n < 1000 {
            if *n % 2 == 1 {
                *n += 1;
                cv.notify_one();
            } else {
                n = cv.wait(n).unwrap();
            }
        }
    });
    {
        let (m, cv) = &*pair;
        let mut n = m.lock().unwrap();
        while *n < 1000 {
            if *n % 2 == 0 {
                *n += 1;
                cv.notify_one();
            } else {
                n = cv.wait(n).unwrap();
            }
        }
    }
    ponger.join().unwrap();
    println!("condvar ping-pong: {}", pair.0.lock().unwrap());

    let mut data = vec![1u64; 10_000];
    thread::scope(|s| {
        for chunk in data.chunks_mut(2500) {
            s.spawn(move || chunk.iter_mut().for_each(|x| *x *= 3));
        }
    });
    println!("scoped threads: {}", data.iter().sum::<u64>());

    let seen: Vec<u64> = (0..3u64)
        .map(|i| {
            thread::spawn(move || {
                let fresh = MINE.with(|m| m.get());
                MINE.with(|m| m.set(i));
                fresh * 10 + MINE.with(|m| m.get())
            })
        })
        .map(|h| h.join().unwrap())
        .collect();
    println!("thread_local: {seen:?}, main's {}", MINE.with(|m| m.get()));

    std::panic::set_hook(Box::new(|_| {}));
    let r = thread::spawn(|| -> u32 { panic!("in a thread") }).join();
    println!("a panicking thread joins as Err: {}", r.is_err());

    let name = thread::Builder::new()
        .name("worker-1".into())
        .spawn(|| thread::current().name().map(str::to_owned))
        .unwrap()
        .join()
        .unwrap();
    println!("named thread: {name:?}");
    println!(
        "available_parallelism >= 1: {}",
        thread::available_parallelism().map_or(0, |n| n.get()) >= 1
    );
}
