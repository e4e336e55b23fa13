//! Command-line configuration. Hand-written: a dozen flags do not justify a dependency.
//!
//! Every bad input becomes an `Err(String)` that `main` prints as one line before exiting 2.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ringhttpd_ring::UringFeatures;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// io_uring when it works, else epoll.
    Auto,
    Uring,
    Epoll,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub root: PathBuf,
    pub threads: usize,
    pub backend: Backend,
    /// Connections per process, split evenly across threads. `None`: derived from RLIMIT_NOFILE.
    pub max_conns: Option<usize>,
    pub uring_features: UringFeatures,
    pub keepalive_timeout: Duration,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub write_timeout: Duration,
    pub limits: ringhttpd_http::Limits,
    /// File cache budget per process, in bytes, split across threads.
    pub cache_size: usize,
    /// How long a deferred answer may take (504 beyond).
    pub handler_timeout: Duration,
    /// Heap bytes the requests in flight may hold per process, split across threads.
    /// `None`: the file cache's size (so queued file bodies stay bounded by what the cache
    /// may hold, as before handlers existed).
    pub response_budget: Option<usize>,
    /// Deferred answers awaited per worker at most.
    pub max_deferred: usize,
    /// Unsent bytes a WebSocket subscriber may have queued (closed with 1008 beyond).
    pub ws_max_queue: usize,
}

pub const USAGE: &str = "\
ringhttpd: thread-per-core HTTP/1.1 server driven by io_uring completions

usage: ringhttpd [options]

  --listen ADDR:PORT       address to listen on            (default 127.0.0.1:8080)
  --root DIR               directory to serve              (default ./www)
  --threads N              worker threads, one per core    (default: CPUs available)
  --backend B              auto | uring | epoll            (default auto)
  --max-conns N            connections per process         (default: from the open-files limit)
  --uring-features MASK    all | 5.15 | -feature,...       (default all; env RINGHTTPD_URING_FEATURES)
                           features: accept_multi recv_multi buf_ring defer_taskrun coop_taskrun
  --keepalive-timeout S    idle keep-alive timeout, seconds (default 75)
  --header-timeout S       time to receive a request head, seconds (default 60)
  --body-timeout S         longest pause while a request body arrives, seconds (default 60)
  --write-timeout S        longest time without progress in sending, seconds (default 60)
  --cache-size MIB         file cache memory bound per process (default 64)
  --max-request-line B     longest request line, bytes; 414 beyond (default 8192)
  --max-header-size B      largest request head, bytes; 431 beyond (default 16384)
  --max-body B             largest request body, bytes; 413 beyond (default 1048576)
  --handler-timeout S      longest wait for a deferred answer, seconds; 504 beyond (default 30)
  --response-budget MIB    memory for responses and request bodies in flight, per process;
                           requests wait beyond it (default: the --cache-size value)
  --max-deferred N         deferred answers awaited per worker; requests wait beyond (default 1024)
  --ws-max-queue KIB       unsent published WebSocket messages one subscriber may have queued;
                           closed with 1008 beyond (default 1024)
  -h, --help               this text
";

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: "127.0.0.1:8080".parse().expect("valid default"),
            root: PathBuf::from("www"),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            backend: Backend::Auto,
            max_conns: None,
            uring_features: UringFeatures::ALL,
            keepalive_timeout: Duration::from_secs(75),
            header_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(60),
            cache_size: 64 << 20,
            limits: ringhttpd_http::Limits::default(),
            handler_timeout: Duration::from_secs(30),
            response_budget: None,
            max_deferred: 1024,
            ws_max_queue: 1 << 20,
        }
    }
}

impl Config {
    pub fn from_args(args: impl IntoIterator<Item = String>) -> Result<Option<Config>, String> {
        let mut cfg = Config::default();
        if let Ok(mask) = std::env::var("RINGHTTPD_URING_FEATURES") {
            cfg.uring_features = UringFeatures::parse(&mask)
                .map_err(|e| format!("RINGHTTPD_URING_FEATURES: {e}"))?;
        }
        let mut it = args.into_iter();
        while let Some(arg) = it.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
                _ => (arg.clone(), None),
            };
            if flag == "-h" || flag == "--help" {
                return Ok(None);
            }
            let mut value = || -> Result<String, String> {
                inline
                    .clone()
                    .or_else(|| it.next())
                    .ok_or_else(|| format!("{flag} needs a value"))
            };
            match flag.as_str() {
                "--listen" => {
                    let v = value()?;
                    cfg.listen = v
                        .parse()
                        .map_err(|_| format!("--listen: `{v}` is not an ADDR:PORT"))?;
                }
                "--root" => cfg.root = PathBuf::from(value()?),
                "--threads" => cfg.threads = number(&flag, &value()?, 1, 1024)?,
                "--backend" => {
                    cfg.backend = match value()?.as_str() {
                        "auto" => Backend::Auto,
                        "uring" | "io_uring" => Backend::Uring,
                        "epoll" => Backend::Epoll,
                        other => {
                            return Err(format!(
                                "--backend: `{other}` is not one of auto, uring, epoll"
                            ))
                        }
                    }
                }
                "--max-conns" => cfg.max_conns = Some(number(&flag, &value()?, 1, 10_000_000)?),
                "--uring-features" => {
                    cfg.uring_features = UringFeatures::parse(&value()?)
                        .map_err(|e| format!("--uring-features: {e}"))?
                }
                "--keepalive-timeout" => cfg.keepalive_timeout = seconds(&flag, &value()?)?,
                "--header-timeout" => cfg.header_timeout = seconds(&flag, &value()?)?,
                "--body-timeout" => cfg.body_timeout = seconds(&flag, &value()?)?,
                "--write-timeout" => cfg.write_timeout = seconds(&flag, &value()?)?,
                "--max-request-line" => {
                    cfg.limits.max_request_line = number(&flag, &value()?, 64, 1 << 20)?
                }
                "--max-header-size" => {
                    cfg.limits.max_head = number(&flag, &value()?, 256, 1 << 20)?
                }
                "--max-body" => cfg.limits.max_body = number(&flag, &value()?, 0, 1 << 40)? as u64,
                "--cache-size" => cfg.cache_size = number(&flag, &value()?, 1, 1 << 20)? << 20,
                "--handler-timeout" => cfg.handler_timeout = seconds(&flag, &value()?)?,
                "--response-budget" => {
                    cfg.response_budget = Some(number(&flag, &value()?, 1, 1 << 20)? << 20)
                }
                "--max-deferred" => cfg.max_deferred = number(&flag, &value()?, 1, 1 << 24)?,
                "--ws-max-queue" => cfg.ws_max_queue = number(&flag, &value()?, 1, 1 << 20)? << 10,
                _ => return Err(format!("unknown option `{arg}` (see --help)")),
            }
        }
        Ok(Some(cfg))
    }
}

/// A timeout flag: whole seconds, 1 s to one day.
fn seconds(flag: &str, v: &str) -> Result<Duration, String> {
    number(flag, v, 1, 86_400).map(|n| Duration::from_secs(n as u64))
}

fn number(flag: &str, v: &str, min: usize, max: usize) -> Result<usize, String> {
    match v.parse::<usize>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("{flag}: `{v}` is not a number in {min}..={max}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Config>, String> {
        Config::from_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn flags_are_read() {
        let c = parse(&[
            "--listen",
            "0.0.0.0:9000",
            "--threads=3",
            "--backend",
            "epoll",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.threads, 3);
        assert_eq!(c.backend, Backend::Epoll);
        let c = parse(&["--uring-features", "5.15", "--max-conns", "10"])
            .unwrap()
            .unwrap();
        assert_eq!(c.uring_features, UringFeatures::LINUX_5_15);
        assert_eq!(c.max_conns, Some(10));
        assert!(parse(&["--help"]).unwrap().is_none());
    }

    #[test]
    fn bad_input_is_explained() {
        for (args, needle) in [
            (&["--threads", "0"][..], "--threads"),
            (&["--threads", "x"][..], "--threads"),
            (&["--listen", "nowhere"][..], "ADDR:PORT"),
            (&["--backend", "kqueue"][..], "kqueue"),
            (&["--bogus"][..], "unknown option"),
            (&["--root"][..], "needs a value"),
            (&["--uring-features", "-nope"][..], "nope"),
        ] {
            let e = parse(args).unwrap_err();
            assert!(e.contains(needle), "{args:?}: {e}");
        }
    }
}
