//! An order-preserving parallel map with a bounded window.
//!
//! Blob reads (zlib inflation, delta resolution) and hashing dominate the cost of a release
//! range, and they are independent per changed path, so worker threads process items while
//! the calling thread consumes the results strictly in item order. A worker never runs more
//! than `window` items ahead of the consumer: memory stays bounded by the window however long
//! the range is, even when one huge file holds up the line.

use std::collections::VecDeque;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::{Condvar, Mutex, PoisonError};

/// The number of worker threads to use when the caller does not say.
pub(crate) fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

struct Progress {
    /// The next item index a worker may claim.
    next: usize,
    /// How many items the consumer has taken, in order.
    consumed: usize,
    /// Set when the consumer gave up (an error) or a worker panicked.
    stop: bool,
}

enum Message<T> {
    Item(usize, T),
    Panicked(Box<dyn std::any::Any + Send>),
}

/// Computes `work(state, i)` for `i` in `0..n` on `threads` workers and hands each result to
/// `consume` in index order, on the calling thread.
///
/// Each worker builds its own `state` with `init` (for example its own repository handle,
/// since libgit2 handles must not be shared between threads). The first error `consume`
/// returns stops the workers and is returned. A panic in a worker is re-raised here.
pub(crate) fn ordered_map<S, T, E>(
    n: usize,
    threads: usize,
    window: usize,
    init: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, usize) -> T + Sync,
    mut consume: impl FnMut(usize, T) -> Result<(), E>,
) -> Result<(), E>
where
    T: Send,
{
    let threads = threads.clamp(1, n.max(1));
    let window = window.max(threads);
    let progress = Mutex::new(Progress {
        next: 0,
        consumed: 0,
        stop: false,
    });
    let room = Condvar::new();
    let (sender, receiver) = mpsc::channel::<Message<T>>();

    std::thread::scope(|scope| {
        for _ in 0..threads {
            let sender = sender.clone();
            let (progress, room, init, work) = (&progress, &room, &init, &work);
            scope.spawn(move || {
                let mut state = init();
                loop {
                    let index = {
                        let mut p = progress.lock().unwrap_or_else(PoisonError::into_inner);
                        while !p.stop && p.next < n && p.next >= p.consumed + window {
                            p = room.wait(p).unwrap_or_else(PoisonError::into_inner);
                        }
                        if p.stop || p.next >= n {
                            return;
                        }
                        p.next += 1;
                        p.next - 1
                    };
                    match catch_unwind(AssertUnwindSafe(|| work(&mut state, index))) {
                        Ok(value) => {
                            // The consumer only hangs up after setting `stop`; nothing is lost.
                            let _ = sender.send(Message::Item(index, value));
                        }
                        Err(panic) => {
                            progress.lock().unwrap_or_else(PoisonError::into_inner).stop = true;
                            room.notify_all();
                            // Re-raised on the calling thread with its own message.
                            let _ = sender.send(Message::Panicked(panic));
                            return;
                        }
                    }
                }
            });
        }
        drop(sender);

        let stop = || {
            progress.lock().unwrap_or_else(PoisonError::into_inner).stop = true;
            room.notify_all();
        };
        // Results that arrived ahead of their turn; slot k holds item `consumed + k`.
        let mut pending: VecDeque<Option<T>> = VecDeque::new();
        let mut consumed = 0;
        while consumed < n {
            match receiver.recv() {
                Ok(Message::Item(index, value)) => {
                    let slot = index - consumed;
                    if pending.len() <= slot {
                        pending.resize_with(slot + 1, || None);
                    }
                    pending[slot] = Some(value);
                }
                Ok(Message::Panicked(panic)) => {
                    stop();
                    resume_unwind(panic);
                }
                // Every worker is gone without finishing: only a panic can do that, and the
                // scope re-raises it when it joins them.
                Err(_) => {
                    stop();
                    return Ok(());
                }
            }
            while let Some(Some(_)) = pending.front() {
                let Some(Some(value)) = pending.pop_front() else {
                    break;
                };
                if let Err(err) = consume(consumed, value) {
                    stop();
                    return Err(err);
                }
                consumed += 1;
                progress
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .consumed = consumed;
                room.notify_all();
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn results_arrive_in_order_whatever_the_timing() {
        let mut seen = Vec::new();
        ordered_map(
            200,
            4,
            8,
            || (),
            |(), i| {
                // Earlier items take longer, so later ones finish first.
                std::thread::sleep(std::time::Duration::from_micros(
                    ((200 - i) % 7) as u64 * 50,
                ));
                i * 2
            },
            |i, v| {
                assert_eq!(v, i * 2);
                seen.push(i);
                Ok::<(), ()>(())
            },
        )
        .expect("no error");
        assert_eq!(seen, (0..200).collect::<Vec<_>>());
    }

    #[test]
    fn workers_stay_within_the_window() {
        let started = AtomicUsize::new(0);
        let mut max_ahead = 0;
        ordered_map(
            500,
            3,
            5,
            || (),
            |(), _| started.fetch_add(1, Ordering::SeqCst),
            |i, _| {
                let ahead = started.load(Ordering::SeqCst) - i;
                max_ahead = max_ahead.max(ahead);
                Ok::<(), ()>(())
            },
        )
        .expect("no error");
        assert!(
            max_ahead <= 5,
            "a worker ran {max_ahead} items ahead of a window of 5"
        );
    }

    #[test]
    fn the_first_consumer_error_stops_the_run() {
        let done = AtomicUsize::new(0);
        let result = ordered_map(
            10_000,
            2,
            4,
            || (),
            |(), i| {
                done.fetch_add(1, Ordering::SeqCst);
                i
            },
            |i, _| if i == 10 { Err(i) } else { Ok(()) },
        );
        assert_eq!(result, Err(10));
        assert!(
            done.load(Ordering::SeqCst) < 100,
            "workers went on after the error"
        );
    }

    #[test]
    fn zero_items_is_fine() {
        let result = ordered_map(0, 2, 4, || (), |(), i| i, |_, _| Err::<(), ()>(()));
        assert_eq!(result, Ok(()));
    }

    #[test]
    #[should_panic(expected = "worker boom")]
    fn a_worker_panic_propagates() {
        let _ = ordered_map(
            100,
            2,
            4,
            || (),
            |(), i| {
                if i == 7 {
                    panic!("worker boom");
                }
                i
            },
            |_, _| Ok::<(), ()>(()),
        );
    }
}
