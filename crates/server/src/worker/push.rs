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

/// Subscribers a fan-out reaches per loop turn at most.
const FANOUT_BATCH: usize = 1024;
/// Each queued frame counts at least this much against a subscriber's queue limit (so many
/// tiny messages are bounded too: the queue's parts cost memory of their own).
const PART_COST: usize = 64;

impl<D: Driver> Worker<D> {
    /// Messages were published (or a fan-out is in progress): deliver to at most
    /// [`FANOUT_BATCH`] subscribers, then come back on the next loop turn (by signalling our
    /// own mailbox), so the completion queue is not overrun and other connections are served
    /// between batches. Messages are taken from the mailbox only when the previous ones are
    /// done, so the mailbox's bound holds publishers back.
    pub(super) fn on_published(&mut self) {
        let mut budget = FANOUT_BATCH;
        let mut refilled = false;
        while budget > 0 {
            let ws = &mut self.ctx.ws;
            if ws.current.is_none() {
                if ws.next_published == ws.published.len() {
                    if refilled {
                        break;
                    }
                    ws.published.clear(); // back to the publishers' pool
                    ws.next_published = 0;
                    self.ctx.mailbox.take_published(&mut ws.published);
                    refilled = true;
                    if ws.published.is_empty() {
                        break;
                    }
                }
                let m = ws.published[ws.next_published].clone();
                ws.next_published += 1;
                ws.topics.subscribers(m.topic(), &mut ws.subs);
                if ws.subs.is_empty() {
                    continue;
                }
                for key in ws.subs.drain(..) {
                    ws.fanout.push_back((key, self.gens[key as usize]));
                }
                ws.current = Some(ws.frames.encode(&m));
                self.ctx.outcomes.ws_published += 1;
            }
            let frame = self.ctx.ws.current.clone().expect("set above");
            while budget > 0 {
                let Some((key, generation)) = self.ctx.ws.fanout.pop_front() else {
                    break;
                };
                budget -= 1;
                // A subscriber gone since the fan-out started (its slot maybe reused) is
                // skipped.
                if self.gens[key as usize] == generation && self.conns.contains(key as usize) {
                    self.push(key as usize, &frame);
                }
            }
            if self.ctx.ws.fanout.is_empty() {
                self.ctx.ws.current = None;
            }
        }
        let ws = &mut self.ctx.ws;
        if ws.current.is_some() || ws.next_published < ws.published.len() {
            crate::sys::eventfd_signal(&self.ctx.mailbox.efd); // more next turn
        } else {
            ws.published.clear(); // every one delivered: back to the publishers' pool
            ws.next_published = 0;
        }
    }

    /// Queue (or write) `frame` for subscriber `key`.
    fn push(&mut self, key: usize, frame: &Rc<Frame>) {
        let conn = &mut self.conns[key];
        if !conn.state.websocket() || !conn.state.takes_requests() {
            return; // closing, or its last frame is queued
        }
        self.ctx.outcomes.ws_delivered += 1;
        if conn.act.is_none()
            && !conn.state.writing()
            && conn.state.transport() == TransportKind::Plain
        {
            self.frames_out.insert(key as u32, frame.clone());
            self.submit(key, Op::WriteFrame);
            self.rearm(key);
            return;
        }
        let act = conn.act.get_or_insert_with(|| self.ctx.acts.take());
        if let Some(f) = self.frames_out.get(&(key as u32)) {
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
