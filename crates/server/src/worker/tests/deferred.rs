//! Deferred answers on the scripted driver: order behind pipelining, an answer that comes while
//! a write is in flight, a connection gone before its answer, the per-core bound.

use std::sync::{Arc, Mutex};

use ringhttpd_http::Method;
use ringhttpd_ring::script::Op;
use ringhttpd_ring::{Errno, OpKind, Token};

use super::super::MAIL_SLOT;
use super::{count, finish_close, harness_with, has, site, write_of, H, HELLO};
use crate::api::Later;

const LATER: &[u8] = b"GET /later HTTP/1.1\r\nHost: a\r\n\r\n";

/// The bundled routes plus `/later`, whose handler parks its handle in the returned store.
fn deferring() -> (H, Arc<Mutex<Vec<Later>>>) {
    let store = Arc::new(Mutex::new(Vec::new()));
    let parked = store.clone();
    let mut b = site();
    b.handle(
        Method::Get,
        "/later",
        Box::new(move |_, res| {
            let (reply, later) = res.defer();
            parked.lock().unwrap().push(later);
            reply
        }),
    );
    (harness_with(b), store)
}

fn mail(h: &mut H) {
    h.complete(Token::new(MAIL_SLOT, 0, OpKind::Poll), Ok(1));
}

fn is_write(o: &Op) -> bool {
    matches!(o, Op::Write { .. })
}

#[test]
fn deferred_answers_keep_pipelined_order() {
    let (mut h, store) = deferring();
    let c = h.accept();
    h.send(&c, &[HELLO, LATER, HELLO].concat());
    let (wtok, data) = write_of(&h.ops());
    assert_eq!(
        count(&data, b"Hello, World!"),
        1,
        "only the first: the third waits behind the deferred one"
    );
    assert_eq!(h.w.ctx.acts.budget.deferred, 1);
    // The answer comes while the first write is in flight: it waits for it.
    store.lock().unwrap().pop().unwrap().text(200, "later!");
    mail(&mut h);
    assert!(!has(&h.ops(), is_write), "never a second write in flight");
    h.complete(wtok, Ok(data.len() as u32));
    let (_, data) = write_of(&h.ops());
    let text = String::from_utf8_lossy(&data);
    let (a, b) = (
        text.find("later!").unwrap(),
        text.find("Hello, World!").unwrap(),
    );
    assert!(a < b, "in order: {text}");
    assert_eq!(h.w.ctx.acts.budget.deferred, 0);
    assert_eq!(h.w.ctx.outcomes.deferred, 1);
}

#[test]
fn a_connection_gone_before_its_answer_frees_its_slot_and_budget() {
    let (mut h, store) = deferring();
    let c = h.accept();
    h.send(&c, LATER);
    assert!(!has(&h.ops(), is_write));
    h.complete(c.recv, Err(Errno(libc::ECONNRESET)));
    let ops = h.ops();
    finish_close(&mut h, &c, &ops);
    assert_eq!(h.w.ctx.acts.budget.deferred, 0, "the bound is given back");
    // The answer comes late: dropped and counted.
    store.lock().unwrap().pop().unwrap().text(200, "too late");
    mail(&mut h);
    assert_eq!(h.w.stats.late, 1);
}

#[test]
fn a_dropped_handle_answers_500_and_the_connection_goes_on() {
    let (mut h, store) = deferring();
    let c = h.accept();
    h.send(&c, LATER);
    drop(store.lock().unwrap().pop());
    mail(&mut h);
    let (wtok, data) = write_of(&h.ops());
    assert!(data.starts_with(b"HTTP/1.1 500 "), "{data:?}");
    assert_eq!(
        count(&data, b"Connection: close"),
        0,
        "the connection goes on"
    );
    h.complete(wtok, Ok(data.len() as u32));
    h.send(&c, HELLO);
    let (_, data) = write_of(&h.ops());
    assert!(data.ends_with(b"Hello, World!"));
    assert_eq!(h.w.ctx.outcomes.deferred_dropped, 1);
}

#[test]
fn at_the_deferred_bound_new_requests_wait() {
    // The harness allows 4 deferred answers per core.
    let (mut h, store) = deferring();
    let conns: Vec<_> = (0..5).map(|_| h.accept()).collect();
    for c in &conns {
        h.send(c, LATER);
    }
    assert_eq!(
        store.lock().unwrap().len(),
        4,
        "the fifth handler has not run"
    );
    assert!(h.w.conns[conns[4].key].state.waiting());
    h.ops();
    store.lock().unwrap().remove(0).text(200, "one");
    mail(&mut h);
    assert_eq!(
        store.lock().unwrap().len(),
        4,
        "an answer made room: the fifth ran"
    );
    assert!(!h.w.conns[conns[4].key].state.waiting());
    assert_eq!(h.w.ctx.acts.budget.deferred, 4);
}

#[test]
fn a_stream_is_written_as_the_client_takes_it_and_its_producer_is_bounded() {
    use crate::api::StreamError;
    let (mut h, store) = deferring();
    let c = h.accept();
    h.send(&c, LATER);
    let later = store.lock().unwrap().pop().unwrap();
    let mut st = later.stream(200, "text/plain");
    let piece = vec![b'x'; 40 * 1024];
    for _ in 0..3 {
        st.send(piece.clone()).unwrap();
    }
    mail(&mut h);
    // The head went out as soon as it came; the pieces came during that write.
    let (wtok, head) = write_of(&h.ops());
    let text = String::from_utf8_lossy(&head);
    assert!(text.contains("Transfer-Encoding: chunked\r\n"), "{text}");
    h.complete(wtok, Ok(head.len() as u32));
    let (wtok, data) = write_of(&h.ops());
    assert!(data.starts_with(b"a000\r\n"), "{:?}", &data[..16]);
    assert_eq!(
        count(&data, b"a000\r\n"),
        2,
        "two 40 KiB chunks, the third waits"
    );
    assert_eq!(st.queued(), 40 * 1024, "the waiting piece still counts");
    // The producer is bounded.
    let mut posted = st.queued();
    let full = loop {
        match st.send(piece.clone()) {
            Ok(()) => posted += piece.len(),
            Err(e) => break e,
        }
    };
    assert_eq!(full, StreamError::Full);
    assert!(posted <= crate::api::Stream::MAX_QUEUED);
    // The client takes the first write: the next pieces go out.
    h.complete(wtok, Ok(data.len() as u32));
    mail(&mut h);
    let (_, data) = write_of(&h.ops());
    assert!(data.starts_with(b"a000\r\n"), "the next chunk follows");
    assert!(st.queued() < posted);
    // The client goes away: once the slot is freed, the producer is told.
    h.complete(c.recv, Err(Errno(libc::ECONNRESET)));
    let ops = h.ops();
    assert!(has(&ops, |o| matches!(o, Op::Cancel { .. })), "{ops:?}");
    for o in &ops {
        if let Op::Cancel { token, .. } = o {
            h.complete(*token, Ok(0));
        }
    }
    h.complete(wtok, Err(Errno::ECANCELED));
    let ops = h.ops();
    finish_close(&mut h, &c, &ops);
    assert_eq!(st.send(b"more".to_vec()), Err(StreamError::Gone));
}
