//! Timeouts in each state and the per-core response budget, on the scripted driver.

use ringhttpd_ring::script::Op;
use ringhttpd_ring::{Errno, OpKind, Token};

use super::{cancels, finish_close, harness, has, is_close, write_of, HELLO};
use crate::conn::Phase;

#[test]
fn header_timeout_is_for_the_whole_head() {
    let mut h = harness();
    let c = h.accept();
    h.tick_after(30);
    // The head's deadline starts with its first byte (t = 30 s) ...
    h.send(&c, b"GET /hello HTTP/1.1\r\n");
    assert_eq!(h.w.conns[c.key].deadline, 91);
    h.tick_after(20);
    h.send(&c, b"Host: a\r\n"); // ... and trickling bytes do not extend it
    assert_eq!(h.w.conns[c.key].deadline, 91);
    h.tick_after(40);
    assert!(
        h.ops().is_empty(),
        "not yet: 60 s into the head (never early)"
    );
    h.tick_after(1);
    let ops = h.ops();
    assert!(has(&ops, |o| cancels(o, OpKind::Recv)), "{ops:?}");
    assert_eq!(h.w.stats.timeouts, 1);
    // The close goes out once the receive has ended; the slot is freed once the cancel and the
    // close have both completed.
    h.complete(c.recv, Err(Errno::ECANCELED));
    let ops = h.ops();
    h.complete(Token::new(c.key as u32, 0, OpKind::Cancel), Ok(0));
    finish_close(&mut h, &c, &ops);
}

#[test]
fn keepalive_timeout_closes_an_idle_connection() {
    let mut h = harness();
    let c = h.accept();
    h.send(&c, HELLO);
    let (wt, data) = write_of(&h.ops());
    h.complete(wt, Ok(data.len() as u32));
    h.tick_after(75);
    assert!(h.ops().is_empty(), "a 75 s keep-alive never ends early");
    h.tick_after(1);
    assert!(has(&h.ops(), |o| cancels(o, OpKind::Recv)));
    assert_eq!(h.w.stats.timeouts, 1);
}

#[test]
fn body_timeout_restarts_with_each_piece() {
    let mut h = harness();
    let c = h.accept();
    h.send(
        &c,
        b"POST /hello HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n",
    );
    let (wt, data) = write_of(&h.ops());
    assert!(
        data.starts_with(b"HTTP/1.1 405"),
        "answered before the body arrives"
    );
    h.complete(wt, Ok(data.len() as u32));
    assert!(h.w.conns[c.key].act.as_ref().unwrap().body_pending());
    assert_eq!(h.w.conns[c.key].deadline, 51, "body timeout");
    h.tick_after(40);
    h.send(&c, &[b'x'; 50]);
    h.tick_after(40);
    assert!(h.ops().is_empty(), "the piece restarted the timer");
    // The rest of the body, then the next request: answered.
    let mut rest = vec![b'x'; 50];
    rest.extend_from_slice(HELLO);
    h.send(&c, &rest);
    let (_, data) = write_of(&h.ops());
    assert!(data.ends_with(b"Hello, World!"));
}

#[test]
fn write_timeout_cancels_the_write_then_closes() {
    let mut h = harness();
    let c = h.accept();
    h.send(&c, HELLO);
    let (wt, _) = write_of(&h.ops());
    assert_eq!(h.w.conns[c.key].deadline, 41, "write timeout");
    h.tick_after(41);
    let ops = h.ops();
    assert!(has(&ops, |o| cancels(o, OpKind::Write)), "{ops:?}");
    assert!(has(&ops, |o| cancels(o, OpKind::Recv)), "{ops:?}");
    h.complete(wt, Err(Errno::ECANCELED));
    assert!(h.ops().is_empty(), "the receive has not ended yet");
    h.complete(c.recv, Err(Errno::ECANCELED));
    // Both targets ended: the close goes out; the slot waits for the two cancels as well.
    let ops = h.ops();
    let Some(Op::Close { token: close, .. }) = ops.iter().find(|o| is_close(o)).cloned() else {
        panic!("{ops:?}")
    };
    let cancel = Token::new(c.key as u32, 0, OpKind::Cancel);
    h.complete(cancel, Ok(0));
    h.complete(close, Ok(0));
    assert!(!h.gone(&c), "one cancel still in flight: the slot is kept");
    h.complete(cancel, Ok(0));
    assert!(h.gone(&c));
}

#[test]
fn linger_timeout_closes() {
    let mut h = harness();
    let c = h.accept();
    h.send(&c, b"GET /hello HTTP/1.0\r\n\r\n");
    let (wt, data) = write_of(&h.ops());
    h.complete(wt, Ok(data.len() as u32));
    assert_eq!(h.phase(&c), Phase::Lingering);
    h.tick_after(6);
    assert!(has(&h.ops(), |o| cancels(o, OpKind::Recv)));
}

#[test]
fn write_completing_after_its_timeout_is_not_resumed() {
    let mut h = harness();
    let c = h.accept();
    h.send(&c, HELLO);
    let (wt, _) = write_of(&h.ops());
    h.tick_after(41);
    assert!(has(&h.ops(), |o| cancels(o, OpKind::Write)));
    // The write wins the race with a partial result: the rest is not submitted.
    h.complete(wt, Ok(10));
    assert!(!has(&h.ops(), |o| matches!(o, Op::Write { .. })));
    h.complete(c.recv, Err(Errno::ECANCELED));
    let ops = h.ops();
    let cancel = Token::new(c.key as u32, 0, OpKind::Cancel);
    h.complete(cancel, Err(Errno(libc::ENOENT)));
    h.complete(cancel, Ok(0));
    finish_close(&mut h, &c, &ops);
}

#[test]
fn response_budget_makes_later_requests_wait_in_order() {
    let mut h = harness();
    // One cached in-memory body (the bundled index) is more than this budget.
    h.w.ctx.acts.budget.limit = 100;
    let get_index = b"GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n";
    let a = h.accept();
    let b = h.accept();
    let c = h.accept();
    h.send(&a, get_index);
    let (wa, da) = write_of(&h.ops());
    assert!(h.w.ctx.acts.budget.full());
    // b and c wait: no response started, their receives are paused.
    h.send(&b, get_index);
    h.send(&c, HELLO);
    let ops = h.ops();
    assert!(!has(&ops, |o| matches!(o, Op::Write { .. })), "{ops:?}");
    assert!(has(
        &ops,
        |o| matches!(o, Op::Cancel { target, .. } if *target == b.recv)
    ));
    assert!(h.w.conns[b.key].state.waiting() && h.w.conns[c.key].state.waiting());
    h.complete(b.recv, Err(Errno::ECANCELED));
    h.complete(c.recv, Err(Errno::ECANCELED));
    // a's write completes: the budget is free again, b goes first and fills it, c still waits.
    h.complete(wa, Ok(da.len() as u32));
    let ops = h.ops();
    let (wb, db) = write_of(&ops);
    assert_eq!(wb.slot as usize, b.key);
    assert!(db.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert!(h.w.conns[c.key].state.waiting());
    h.complete(wb, Ok(db.len() as u32));
    let ops = h.ops();
    let (wc, dc) = write_of(&ops);
    assert_eq!(wc.slot as usize, c.key);
    assert!(dc.ends_with(b"Hello, World!"));
    // Both resumed receiving once answered.
    assert!(has(
        &ops,
        |o| matches!(o, Op::Recv { token, .. } if token.slot as usize == b.key)
    ));
    h.complete(wc, Ok(dc.len() as u32));
    assert_eq!(h.w.ctx.acts.budget.held, 0);
    assert!(!h.w.conns[c.key].state.waiting());
}
