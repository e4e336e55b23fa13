//! Fan-out: messages published to topics, delivered to this core's subscribers.
//!
//! The frame is encoded once per core (`pubsub::Frames`); a subscriber with nothing queued
//! gets a write of that frame's own iovec (no output queue, no copy, nothing allocated); one
//! that is busy gets a reference to the frame appended to its queue, bounded by
//! `--ws-max-queue` (closed with 1008 beyond).

use std::rc::Rc;

use ringhttpd_ring::Driver;

use super::io::Op;
use super::Worker;
use crate::conn::TransportKind;
use crate::pubsub::Frame;
use crate::websocket::OVERFLOW_CLOSE;

/// Each queued frame counts at least this much against a subscriber's queue limit (so many
/// tiny messages are bounded too: the queue's parts cost memory of their own).
const PART_COST: usize = 64;

impl<D: Driver> Worker<D> {
    /// Messages were published: deliver each to this core's subscribers of its topic.
    pub(super) fn on_published(&mut self) {
        let mut msgs = std::mem::take(&mut self.ctx.ws.published);
        self.ctx.mailbox.take_published(&mut msgs);
        let mut subs = std::mem::take(&mut self.ctx.ws.fanout);
        for m in msgs.drain(..) {
            self.ctx.ws.topics.subscribers(m.topic(), &mut subs);
            if subs.is_empty() {
                continue;
            }
            let frame = self.ctx.ws.frames.encode(&m);
            drop(m); // back to the publishers' pool as soon as every core has encoded it
            self.ctx.outcomes.ws_published += 1;
            for key in subs.drain(..) {
                self.push(key as usize, &frame);
            }
        }
        self.ctx.ws.fanout = subs;
        self.ctx.ws.published = msgs;
    }

    /// Queue (or write) `frame` for subscriber `key`.
    fn push(&mut self, key: usize, frame: &Rc<Frame>) {
        let conn = &mut self.conns[key];
        if !conn.state.websocket() || !conn.state.takes_requests() {
            return; // closing, or its last frame is queued
        }
        self.ctx.outcomes.ws_delivered += 1;
        let slot = &mut self.ws_slots[key];
        if conn.act.is_none()
            && !conn.state.writing()
            && conn.state.transport() == TransportKind::Plain
        {
            slot.frame = Some(frame.clone());
            self.submit(key, Op::WriteFrame);
            self.rearm(key);
            return;
        }
        let act = conn.act.get_or_insert_with(|| self.ctx.acts.take());
        if let Some(f) = &slot.frame {
            if act.out.total() == 0 {
                // The frame being written goes first, so that write completes into the queue.
                act.out.push_shared(f.clone());
            }
        }
        let limit = self.ctx.ws.max_queue;
        let queued = act.out.pending() + act.out.parts_len() * PART_COST;
        if queued + frame.bytes().len() + PART_COST > limit {
            // Too slow (RFC 6455 §7.4.1: 1008, policy violation): nothing more is queued; the
            // close follows what is, and the write timeout ends a client that reads nothing.
            act.out.push_static(OVERFLOW_CLOSE);
            conn.state.last_response();
            self.ctx.outcomes.ws_overflows += 1;
            self.ctx.outcomes.ws_delivered -= 1;
        } else {
            act.out.push_shared(frame.clone());
        }
        if !conn.state.writing() {
            self.settle(key);
        }
    }
}
