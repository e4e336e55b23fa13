//! The outcome record: one per answered request (parse errors included), produced in one place
//! (`h1::answer` and `h1::answer_error`) and handed to the per-core [`Outcomes`]. The access log
//! and metrics consume these records; today they feed the counters of the exit report.

use std::time::Instant;

/// Which responder answered.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum RouteId {
    Hello = 0,
    Files = 1,
    /// The request could not be parsed (or its body was malformed): answered by the protocol.
    Error = 2,
    /// The server as a whole (`OPTIONS *`).
    Server = 3,
}

impl RouteId {
    pub fn name(self) -> &'static str {
        match self {
            RouteId::Hello => "hello",
            RouteId::Files => "files",
            RouteId::Error => "error",
            RouteId::Server => "server",
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
    /// Requests by responder: hello, files, error, server.
    pub by_route: [u64; 4],
    /// Responses after which the connection closed.
    pub closes: u64,
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
        let (c, r) = (&self.by_class, &self.by_route);
        format!(
            "requests={} 1xx={} 2xx={} 3xx={} 4xx={} 5xx={} {}={} {}={} {}={} {}={} closes={} bytes={}",
            self.requests,
            c[0],
            c[1],
            c[2],
            c[3],
            c[4],
            RouteId::Hello.name(),
            r[0],
            RouteId::Files.name(),
            r[1],
            RouteId::Error.name(),
            r[2],
            RouteId::Server.name(),
            r[3],
            self.closes,
            self.bytes
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_class() {
        let mut o = Outcomes::default();
        for (status, route) in [
            (200, RouteId::Hello),
            (206, RouteId::Files),
            (304, RouteId::Files),
            (404, RouteId::Files),
            (400, RouteId::Error),
            (500, RouteId::Files),
            (101, RouteId::Hello),
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
        assert_eq!(o.by_route, [2, 4, 1, 0]);
        assert_eq!(o.bytes, 70);
        assert_eq!(
            o.report(),
            "requests=7 1xx=1 2xx=2 3xx=1 4xx=2 5xx=1 hello=2 files=4 error=1 server=0 closes=1 \
             bytes=70"
        );
    }
}
