//! The outcome record: one per answered request (parse errors included), produced in one place
//! (`h1::answer` and `h1::answer_error`) and handed to the per-core [`Outcomes`]. The access log
//! and metrics consume these records; today they feed the counters of the exit report.

use std::time::Instant;

/// Which responder answered.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum RouteId {
    /// A registered handler.
    Handler = 0,
    /// A file mount.
    Files = 1,
    /// The request could not be parsed (or its body was malformed): answered by the protocol.
    Error = 2,
    /// The server as a whole (`OPTIONS *`).
    Server = 3,
    /// No route took it: 404, 405, 501, or a path that does not decode (400).
    Unrouted = 4,
}

impl RouteId {
    pub const ALL: [RouteId; 5] = [
        RouteId::Handler,
        RouteId::Files,
        RouteId::Error,
        RouteId::Server,
        RouteId::Unrouted,
    ];

    pub fn name(self) -> &'static str {
        match self {
            RouteId::Handler => "handlers",
            RouteId::Files => "files",
            RouteId::Error => "error",
            RouteId::Server => "server",
            RouteId::Unrouted => "unrouted",
        }
    }
}

/// What happened to one request.
#[derive(Copy, Clone, Debug)]
pub struct Outcome {
    pub status: u16,
    /// Response bytes queued (head and body).
    pub bytes: u64,
    /// When the loop turn that completed the request's head began. A consumer that wants the
    /// request time reads the clock when it formats the record (none is read per request).
    #[allow(dead_code)] // for the access log's request time; the counters need no clock
    pub started: Instant,
    pub route: RouteId,
    /// The site that answered (one today; the config issue adds more).
    #[allow(dead_code)] // one site today: nothing to tell apart yet
    pub site: u16,
    /// Whether the connection closes after this response.
    pub close: bool,
}

/// Per-core consumers of outcomes. No lock, no allocation.
#[derive(Default, Debug)]
pub struct Outcomes {
    pub requests: u64,
    /// Responses by status class: 1xx .. 5xx.
    pub by_class: [u64; 5],
    pub bytes: u64,
    /// Requests by responder, indexed by [`RouteId`].
    pub by_route: [u64; 5],
    /// Responses after which the connection closed.
    pub closes: u64,
    /// Handlers that panicked (answered 500).
    pub panics: u64,
    /// Answers deferred; of those, handles dropped unanswered (500) and answers that did not
    /// come in time (504).
    pub deferred: u64,
    pub deferred_dropped: u64,
    pub deferred_expired: u64,
    /// WebSocket messages received, and connections closed for a protocol violation.
    pub ws_messages: u64,
    pub ws_errors: u64,
    /// Published messages this core had subscribers for, the frames it queued for them, and
    /// subscribers closed for a queue past its limit (1008).
    pub ws_published: u64,
    pub ws_delivered: u64,
    pub ws_overflows: u64,
}

impl Outcomes {
    pub fn record(&mut self, o: &Outcome) {
        self.requests += 1;
        self.by_route[o.route as usize] += 1;
        self.closes += u64::from(o.close);
        if let Some(c) = (o.status / 100).checked_sub(1).filter(|&c| c < 5) {
            self.by_class[c as usize] += 1;
        }
        self.bytes += o.bytes;
    }

    /// `requests=N 2xx=N ...` for the exit report.
    pub fn report(&self) -> String {
        use std::fmt::Write;
        let c = &self.by_class;
        let mut s = format!(
            "requests={} 1xx={} 2xx={} 3xx={} 4xx={} 5xx={}",
            self.requests, c[0], c[1], c[2], c[3], c[4]
        );
        for r in RouteId::ALL {
            let _ = write!(s, " {}={}", r.name(), self.by_route[r as usize]);
        }
        let _ = write!(
            s,
            " closes={} bytes={} panics={} deferred={} deferred_dropped={} deferred_expired={} \
             ws_messages={} ws_errors={} ws_published={} ws_delivered={} ws_overflows={}",
            self.closes,
            self.bytes,
            self.panics,
            self.deferred,
            self.deferred_dropped,
            self.deferred_expired,
            self.ws_messages,
            self.ws_errors,
            self.ws_published,
            self.ws_delivered,
            self.ws_overflows
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_class() {
        let mut o = Outcomes::default();
        for (status, route) in [
            (200, RouteId::Handler),
            (206, RouteId::Files),
            (304, RouteId::Files),
            (404, RouteId::Files),
            (400, RouteId::Error),
            (500, RouteId::Files),
            (101, RouteId::Handler),
        ] {
            o.record(&Outcome {
                status,
                bytes: 10,
                started: Instant::now(),
                route,
                site: 0,
                close: route == RouteId::Error,
            });
        }
        assert_eq!(o.requests, 7);
        assert_eq!(o.by_class, [1, 2, 1, 2, 1]);
        assert_eq!(o.by_route, [2, 4, 1, 0, 0]);
        assert_eq!(o.bytes, 70);
        assert_eq!(
            o.report(),
            "requests=7 1xx=1 2xx=2 3xx=1 4xx=2 5xx=1 handlers=2 files=4 error=1 server=0 \
             unrouted=0 closes=1 bytes=70 panics=0 deferred=0 deferred_dropped=0 deferred_expired=0 \
             ws_messages=0 ws_errors=0 ws_published=0 ws_delivered=0 ws_overflows=0"
        );
    }
}
