//! A small fixed pool (4 workers, the default max_threads) is not starved
//! by idle keep-alive connections, by clients that send half a head and
//! stop, or by many slow requests at once.
//!
//! Durations are printed (see them with `--nocapture`) but only checked
//! against generous bounds that catch hangs, never against tight timings.

use crate::support;

use std::time::{Duration, Instant};

use support::{join_all, Client, TestServer, GUARD};

fn pool_of_four() -> werk::Options {
    support::quiet().threads(4)
}

#[test]
fn idle_keep_alive_connections_do_not_block_a_new_client() {
    idle_connections_beside_a_new_client(pool_of_four(), "default max_threads");
}

/// With no room to grow the pool, idle connections must still not hold
/// the four workers: they wait in the parker.
#[test]
fn idle_keep_alive_connections_do_not_hold_workers() {
    idle_connections_beside_a_new_client(pool_of_four().max_threads(4), "max_threads 4");
}

fn idle_connections_beside_a_new_client(options: werk::Options, label: &str) {
    let server = TestServer::start(werk::apps::echo, options);
    let started = Instant::now();
    let mut idle: Vec<Client> = (0..64)
        .map(|i| {
            let mut c = server.connect();
            let r = c.get(&format!("/bytes/{}", 10 + i));
            assert_eq!(r.status, 200);
            assert_eq!(r.body.len(), 10 + i);
            assert!(
                !r.says_close(),
                "the server closed keep-alive connection {i}"
            );
            c
        })
        .collect();
    eprintln!(
        "[{label}] 64 keep-alive connections opened and used in {:?}",
        started.elapsed()
    );

    // All 64 are now idle and open; a new client must still be served.
    let started = Instant::now();
    let mut fresh = server.connect();
    let r = fresh.get("/fresh");
    let took = started.elapsed();
    eprintln!("[{label}] request on a fresh connection beside 64 idle ones: {took:?}");
    assert_eq!(r.status, 200);
    assert!(
        r.text().contains("\"PATH_INFO\": \"/fresh\""),
        "{}",
        r.text()
    );
    assert!(took < GUARD, "the fresh request took {took:?}");

    // And every idle connection still carries a second request.
    let started = Instant::now();
    for (i, c) in idle.iter_mut().enumerate() {
        let r = c.get(&format!("/again/{i}"));
        assert_eq!(r.status, 200);
        assert!(r.text().contains(&format!("\"PATH_INFO\": \"/again/{i}\"")));
    }
    eprintln!(
        "[{label}] second request on each of the 64 kept-alive connections: {:?}",
        started.elapsed()
    );
}

#[test]
fn half_sent_heads_do_not_block_other_requests() {
    half_sent_heads_beside_other_requests(pool_of_four(), "default max_threads");
}

/// With no room to grow the pool, clients that stopped mid-head must still
/// not hold the four workers.
#[test]
fn half_sent_heads_do_not_hold_workers() {
    half_sent_heads_beside_other_requests(pool_of_four().max_threads(4), "max_threads 4");
}

fn half_sent_heads_beside_other_requests(options: werk::Options, label: &str) {
    // A head timeout far beyond the test, so the half-sent heads are
    // certainly still pending when they are finished at the end.
    let server = TestServer::start(
        werk::apps::echo,
        options.head_timeout(Duration::from_secs(120)),
    );
    let mut stalled: Vec<Client> = (0..8)
        .map(|i| {
            let mut c = server.connect();
            c.send(
                format!("GET /stalled/{i} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Partial: ").as_bytes(),
            );
            c
        })
        .collect();
    // Give the server time to pick the partial heads up.
    std::thread::sleep(Duration::from_millis(200));

    let started = Instant::now();
    let addr = server.addr;
    let threads: Vec<_> = (0..20)
        .map(|i| {
            std::thread::spawn(move || {
                let t = Instant::now();
                let mut c = Client::connect(addr);
                let r = c.get(&format!("/other/{i}"));
                assert_eq!(r.status, 200, "request {i}");
                assert!(
                    r.text().contains(&format!("\"PATH_INFO\": \"/other/{i}\"")),
                    "request {i}: {}",
                    r.text()
                );
                t.elapsed()
            })
        })
        .collect();
    let times = join_all(threads, GUARD, "requests beside half-sent heads");
    let total = started.elapsed();
    eprintln!(
        "[{label}] 20 requests beside 8 half-sent heads: all done in {total:?}; slowest {:?}",
        times.iter().max().unwrap()
    );
    assert!(total < GUARD);

    // The stalled clients finish their heads and are answered too.
    let started = Instant::now();
    for (i, c) in stalled.iter_mut().enumerate() {
        c.send(b"yes\r\n\r\n");
        let r = c.read_response();
        assert_eq!(r.status, 200, "stalled request {i}");
        assert!(r
            .text()
            .contains(&format!("\"PATH_INFO\": \"/stalled/{i}\"")));
        assert!(
            r.text().contains("\"HTTP_X_PARTIAL\": \"yes\""),
            "{}",
            r.text()
        );
    }
    eprintln!(
        "[{label}] the 8 half-sent heads, completed, answered in {:?}",
        started.elapsed()
    );
}

/// Runs 32 requests for `target` at once, each on its own connection, and
/// checks every response with `check`.
fn many_slow_requests(target: &'static str, check: fn(&support::Response)) {
    let server = TestServer::start(werk::apps::echo, pool_of_four());
    let addr = server.addr;
    let started = Instant::now();
    let threads: Vec<_> = (0..32)
        .map(|_| {
            std::thread::spawn(move || {
                let t = Instant::now();
                let mut c = Client::connect(addr);
                let r = c.get(target);
                check(&r);
                t.elapsed()
            })
        })
        .collect();
    let times = join_all(threads, GUARD, target);
    let total = started.elapsed();
    eprintln!(
        "32 concurrent {target}: all done in {total:?}; fastest {:?}, slowest {:?}",
        times.iter().min().unwrap(),
        times.iter().max().unwrap()
    );
    assert!(total < GUARD, "32 concurrent {target} took {total:?}");
}

#[test]
fn thirty_two_concurrent_sleeping_requests_all_complete() {
    many_slow_requests("/sleep/300", |r| {
        assert_eq!(r.status, 200);
        assert!(r.text().contains("\"PATH_INFO\": \"/sleep/300\""));
    });
}

#[test]
fn thirty_two_concurrent_slow_streams_all_complete() {
    many_slow_requests("/stream/5?delay_ms=50", |r| {
        assert_eq!(r.status, 200);
        assert!(r.chunked(), "a stream without a length is chunked");
        let want: String = (0..5).map(|i| format!("{{\"chunk\": {i}}}\n")).collect();
        assert_eq!(r.text(), want);
    });
}

/// Clients that send their next request the moment a response arrives
/// race the worker parking their connection: the request may land before
/// or after the park, or while the worker still holds it. Every one must
/// be answered, whole heads and heads sent in two pieces alike, with the
/// pool at two workers so that the parker is used all the time.
#[test]
fn quick_clients_are_never_left_waiting() {
    let server = TestServer::start(werk::apps::echo, support::quiet().threads(2).max_threads(2));
    let addr = server.addr;
    let clients: Vec<_> = (0..24)
        .map(|c| {
            std::thread::spawn(move || {
                let mut client = Client::connect(addr);
                for i in 0..300 {
                    let target = format!("/bytes/{}", 1 + (c * 300 + i) % 97);
                    let r = if i % 5 == 0 {
                        let head = format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n");
                        let (first, second) = head.as_bytes().split_at(9);
                        client.send(first);
                        std::thread::sleep(Duration::from_micros(200));
                        client.send(second);
                        client.read_response()
                    } else {
                        client.get(&target)
                    };
                    assert_eq!(r.status, 200, "client {c}, request {i}");
                    assert_eq!(r.body.len(), 1 + (c * 300 + i) % 97);
                }
            })
        })
        .collect();
    let started = Instant::now();
    join_all(clients, GUARD, "quick clients");
    eprintln!("24 clients x 300 quick requests: {:?}", started.elapsed());
}

/// A client that connects and says nothing for a while (on Linux the
/// kernel holds such a connection back from the server until its first
/// bytes, `TCP_DEFER_ACCEPT`) is served once it speaks, and a connection
/// that never speaks does not stand in anyone's way.
#[test]
fn a_client_that_speaks_late_is_served() {
    let server = TestServer::start(werk::apps::echo, support::quiet().threads(1).max_threads(1));
    let mut silent = server.connect();
    let mut late = server.connect();
    let r = server.connect().get("/meanwhile");
    assert_eq!(r.status, 200);
    std::thread::sleep(Duration::from_millis(1500));
    let r = late.get("/late");
    assert_eq!(r.status, 200);
    assert!(
        r.text().contains("\"PATH_INFO\": \"/late\""),
        "{}",
        r.text()
    );
    let r = late.get("/again");
    assert_eq!(r.status, 200);
    silent.send(b"GET /last HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(silent.read_response().status, 200);
}
