//! Configuration: command-line flags (hand-written: a couple of dozen flags do not justify a
//! dependency) and the `--config` file (TOML, through `toml` + serde), whose every key sets
//! what one flag does and goes through the same checks; flags on the command line override
//! the file.
//!
//! Every bad input becomes an `Err(String)` that `main` prints as one line before exiting 2; a
//! file's errors name the file, the line and the key.

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
    /// The listening addresses (each worker listens on all of them).
    pub listen: Vec<SocketAddr>,
    /// The first `--listen` (or the file's `listen`) replaces the default list; the next ones
    /// add to it.
    listen_given: bool,
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
    /// The file's `[[site]]` tables (none: `root` is the one site).
    pub sites: Vec<SiteConfig>,
}

/// One `[[site]]`.
pub type SiteConfig = crate::router::SiteSpec;

pub const USAGE: &str = "\
ringhttpd: thread-per-core HTTP/1.1 server driven by io_uring completions

usage: ringhttpd [options]

  --config FILE            read settings from a TOML file (see dist/ringhttpd.toml); flags
                           given on the command line override it
  --check-config           check the configuration (file and flags), print ok, exit 0; or
                           print the error and exit 2
  --version                print the version

  --listen ADDR:PORT       address to listen on; repeat for more (default 127.0.0.1:8080)
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
            listen: vec!["127.0.0.1:8080".parse().expect("valid default")],
            listen_given: false,
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
            sites: Vec::new(),
        }
    }
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Parsed {
    /// Serve with this configuration.
    Run(Config),
    /// `--check-config`: the configuration is valid (the caller checks what needs the file
    /// system), print `ok`.
    Check(Config),
    Help,
    Version,
}

impl Config {
    pub fn from_args(args: impl IntoIterator<Item = String>) -> Result<Parsed, String> {
        let mut cfg = Config::default();
        if let Ok(mask) = std::env::var("RINGHTTPD_URING_FEATURES") {
            cfg.uring_features = UringFeatures::parse(&mask)
                .map_err(|e| format!("RINGHTTPD_URING_FEATURES: {e}"))?;
        }
        // (flag, value) pairs first, so the file can be read before the flags that override it.
        let mut flags: Vec<(String, String)> = Vec::new();
        let (mut file, mut check) = (None, false);
        let mut it = args.into_iter();
        while let Some(arg) = it.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
                _ => (arg.clone(), None),
            };
            match flag.as_str() {
                "-h" | "--help" => return Ok(Parsed::Help),
                "--version" => return Ok(Parsed::Version),
                "--check-config" => {
                    check = true;
                    continue;
                }
                _ => {}
            }
            if !flag.starts_with("--") || !FLAGS.contains(&flag.as_str()) {
                return Err(format!("unknown option `{arg}` (see --help)"));
            }
            let value = inline
                .or_else(|| it.next())
                .ok_or_else(|| format!("{flag} needs a value"))?;
            if flag == "--config" {
                file = Some(value);
            } else {
                flags.push((flag, value));
            }
        }
        if let Some(path) = file {
            cfg.load(&path)?;
        }
        // Addresses on the command line replace the file's.
        cfg.listen_given = false;
        for (flag, value) in flags {
            cfg.set(&flag, &flag, &value)?;
        }
        Ok(if check {
            Parsed::Check(cfg)
        } else {
            Parsed::Run(cfg)
        })
    }

    /// Apply flag `flag` (`name` is what errors call it: the flag, or a file's key).
    fn set(&mut self, flag: &str, name: &str, value: &str) -> Result<(), String> {
        let cfg = self;
        match flag {
            "--listen" => {
                let a: SocketAddr = value
                    .parse()
                    .map_err(|_| format!("{name}: `{value}` is not an ADDR:PORT"))?;
                if !std::mem::replace(&mut cfg.listen_given, true) {
                    cfg.listen.clear();
                }
                if a.port() != 0 && cfg.listen.contains(&a) {
                    return Err(format!("{name}: `{value}` is given twice"));
                }
                cfg.listen.push(a);
            }
            "--root" => cfg.root = PathBuf::from(value),
            "--threads" => cfg.threads = number(name, value, 1, 1024)?,
            "--backend" => {
                cfg.backend = match value {
                    "auto" => Backend::Auto,
                    "uring" | "io_uring" => Backend::Uring,
                    "epoll" => Backend::Epoll,
                    other => {
                        return Err(format!(
                            "{name}: `{other}` is not one of auto, uring, epoll"
                        ))
                    }
                }
            }
            "--max-conns" => cfg.max_conns = Some(number(name, value, 1, 10_000_000)?),
            "--uring-features" => {
                cfg.uring_features =
                    UringFeatures::parse(value).map_err(|e| format!("{name}: {e}"))?
            }
            "--keepalive-timeout" => cfg.keepalive_timeout = seconds(name, value)?,
            "--header-timeout" => cfg.header_timeout = seconds(name, value)?,
            "--body-timeout" => cfg.body_timeout = seconds(name, value)?,
            "--write-timeout" => cfg.write_timeout = seconds(name, value)?,
            "--max-request-line" => cfg.limits.max_request_line = number(name, value, 16, 1 << 20)?,
            "--max-header-size" => cfg.limits.max_head = number(name, value, 256, 1 << 20)?,
            "--max-body" => cfg.limits.max_body = number(name, value, 0, 1 << 40)? as u64,
            "--cache-size" => cfg.cache_size = number(name, value, 1, 1 << 20)? << 20,
            "--handler-timeout" => cfg.handler_timeout = seconds(name, value)?,
            "--response-budget" => {
                cfg.response_budget = Some(number(name, value, 1, 1 << 20)? << 20)
            }
            "--max-deferred" => cfg.max_deferred = number(name, value, 1, 1 << 24)?,
            "--ws-max-queue" => cfg.ws_max_queue = number(name, value, 1, 1 << 20)? << 10,
            _ => unreachable!("FLAGS lists every flag set handles: {flag}"),
        }
        Ok(())
    }

    /// Read a `--config` file: its keys set what their flags do (see `dist/ringhttpd.toml`).
    fn load(&mut self, path: &str) -> Result<(), String> {
        let text = match std::fs::read(path) {
            Ok(b) => String::from_utf8(b).map_err(|_| format!("{path}: not UTF-8 text"))?,
            Err(e) if e.raw_os_error() == Some(libc::EISDIR) => {
                return Err(format!("{path}: is a directory, not a config file"))
            }
            Err(e) => return Err(format!("{path}: {e}")),
        };
        let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        let mut file: FileConfig = toml::from_str(&text).map_err(|e| {
            let line = e.span().map_or(0, |s| line_of(s.start));
            let src = text
                .lines()
                .nth(line.saturating_sub(1))
                .unwrap_or("")
                .trim();
            format!("{path}:{line}: {} (at `{src}`)", e.message().trim())
        })?;
        let mut sites = Vec::new();
        let mut claimed: Vec<String> = Vec::new();
        for (i, site) in std::mem::take(&mut file.site).into_iter().enumerate() {
            let site = site.into_inner();
            let at = |span: std::ops::Range<usize>| line_of(span.start);
            if site.names.get_ref().is_empty() {
                let line = at(site.names.span());
                return Err(format!(
                    "{path}:{line}: site {}: names: give at least one",
                    i + 1
                ));
            }
            let mut names = Vec::new();
            for n in site.names.into_inner() {
                let line = at(n.span());
                let name = n.into_inner().to_ascii_lowercase();
                if name.is_empty() || (name != "*" && name.contains([':', '/', ' '])) {
                    return Err(format!(
                        "{path}:{line}: site {}: names: `{name}` is not a host name (no port)",
                        i + 1
                    ));
                }
                if claimed.contains(&name) {
                    return Err(format!(
                        "{path}:{line}: site {}: names: `{name}` is claimed by two sites",
                        i + 1
                    ));
                }
                claimed.push(name.clone());
                names.push(name);
            }
            let line = at(site.root.span());
            let root = PathBuf::from(site.root.into_inner());
            match std::fs::metadata(&root) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(format!(
                        "{path}:{line}: site {}: root: {}: not a directory",
                        i + 1,
                        root.display()
                    ))
                }
                Err(e) => {
                    return Err(format!(
                        "{path}:{line}: site {}: root: {}: {e}",
                        i + 1,
                        root.display()
                    ))
                }
            }
            let mut error_pages = Vec::new();
            let (pages_line, pages) = match site.error_pages {
                Some(p) => (at(p.span()), p.into_inner()),
                None => (0, Default::default()),
            };
            for (status, page) in pages {
                let line = at(page.span());
                let code = status
                    .parse::<u16>()
                    .ok()
                    .filter(|c| (400..=599).contains(c))
                    .ok_or_else(|| {
                        format!(
                            "{path}:{pages_line}: site {}: error_pages: `{status}` is not a \
                             4xx or 5xx status",
                            i + 1
                        )
                    })?;
                let page = page.into_inner();
                let bad = |why: &str| {
                    format!("{path}:{line}: site {}: error_pages: {page}: {why}", i + 1)
                };
                if !page.starts_with('/') {
                    return Err(bad("a path under the site's root, starting with /"));
                }
                if page.split('/').any(|seg| seg == ".." || seg == ".") {
                    return Err(bad("outside the root (dot segments)"));
                }
                match std::fs::metadata(root.join(&page[1..])) {
                    Ok(m) if m.is_file() => {}
                    Ok(_) => return Err(bad("not a file")),
                    Err(e) => return Err(bad(&e.to_string())),
                }
                error_pages.push((code, page));
            }
            let mut header_rules = Vec::new();
            for rule in site.headers {
                let rule_line = at(rule.span());
                let rule = rule.into_inner();
                let line = at(rule.path.span());
                let glob = rule.path.into_inner();
                let segs_ok = glob.split('/').skip(1).enumerate().all(|(k, seg)| {
                    seg != "." && seg != ".." && (!seg.is_empty() || k == 0 || glob.ends_with('/'))
                });
                if !glob.starts_with('/') || glob.contains("//") || !segs_ok {
                    return Err(format!(
                        "{path}:{line}: site {}: headers: path `{glob}` cannot match (a \
                         normalised path starts with / and has no empty or dot segments)",
                        i + 1
                    ));
                }
                if rule.set.is_empty() {
                    return Err(format!(
                        "{path}:{rule_line}: site {}: headers: `set` is empty",
                        i + 1
                    ));
                }
                let mut set = Vec::new();
                for (name, value) in rule.set {
                    let line = at(value.span());
                    let value = value.into_inner();
                    let token = !name.is_empty()
                        && name
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
                    if !token {
                        return Err(format!(
                            "{path}:{line}: site {}: headers: `{name}` is not a field name",
                            i + 1
                        ));
                    }
                    if MANAGED.contains(&name.to_ascii_lowercase().as_str()) {
                        return Err(format!(
                            "{path}:{line}: site {}: headers: `{name}` is set by the server",
                            i + 1
                        ));
                    }
                    if value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
                        return Err(format!(
                            "{path}:{line}: site {}: headers: the value of `{name}` has \
                             control characters",
                            i + 1
                        ));
                    }
                    set.push((name, value.trim().to_string()));
                }
                header_rules.push(crate::files::HeaderRule { glob, set });
            }
            sites.push(SiteConfig {
                names,
                root,
                error_pages,
                header_rules,
            });
        }
        self.sites = sites;
        let settings = file
            .settings()
            .map_err(|(at, e)| format!("{path}:{}: {e}", line_of(at)))?;
        for (flag, key, value) in settings {
            let line = line_of(value.span().start);
            self.set(flag, &key, value.get_ref())
                .map_err(|e| format!("{path}:{line}: {e}"))?;
        }
        Ok(())
    }
}

/// Every flag that takes a value.
const FLAGS: &[&str] = &[
    "--config",
    "--listen",
    "--root",
    "--threads",
    "--backend",
    "--max-conns",
    "--uring-features",
    "--keepalive-timeout",
    "--header-timeout",
    "--body-timeout",
    "--write-timeout",
    "--max-request-line",
    "--max-header-size",
    "--max-body",
    "--cache-size",
    "--handler-timeout",
    "--response-budget",
    "--max-deferred",
    "--ws-max-queue",
];

/// A scalar a key may hold (numbers and strings; each flag's own check decides what is valid).
enum Scalar {
    Int(i64),
    Str(String),
}

impl<'de> serde::Deserialize<'de> for Scalar {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Scalar, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a whole number or a string")
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar::Int(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Scalar, E> {
                i64::try_from(v)
                    .map(Scalar::Int)
                    .map_err(|_| E::custom("number too large"))
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar::Str(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl std::fmt::Display for Scalar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scalar::Int(n) => write!(f, "{n}"),
            Scalar::Str(s) => f.write_str(s),
        }
    }
}

type Value = toml::Spanned<Scalar>;

/// The file's layout: unknown keys are errors (with their line).
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<toml::Spanned<Vec<toml::Spanned<String>>>>,
    root: Option<Value>,
    threads: Option<Value>,
    backend: Option<Value>,
    max_conns: Option<Value>,
    uring_features: Option<Value>,
    #[serde(default)]
    timeouts: Timeouts_,
    #[serde(default)]
    limits: Limits_,
    #[serde(default)]
    cache: Cache_,
    #[serde(default)]
    handlers: Handlers_,
    #[serde(default)]
    websocket: WebSocket_,
    #[serde(default)]
    site: Vec<toml::Spanned<Site_>>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_camel_case_types)]
struct Site_ {
    names: toml::Spanned<Vec<toml::Spanned<String>>>,
    root: toml::Spanned<String>,
    error_pages: Option<toml::Spanned<std::collections::BTreeMap<String, toml::Spanned<String>>>>,
    #[serde(default)]
    headers: Vec<toml::Spanned<Headers_>>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_camel_case_types)]
struct Headers_ {
    path: toml::Spanned<String>,
    set: std::collections::BTreeMap<String, toml::Spanned<String>>,
}

/// Fields a header rule may not set: the server's own (framing, validators, the connection).
const MANAGED: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "date",
    "server",
    "etag",
    "last-modified",
    "content-range",
    "content-encoding",
    "content-type",
    "accept-ranges",
    "vary",
];

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
#[allow(non_camel_case_types)]
struct Timeouts_ {
    keepalive: Option<Value>,
    header: Option<Value>,
    body: Option<Value>,
    write: Option<Value>,
    handler: Option<Value>,
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
#[allow(non_camel_case_types)]
struct Limits_ {
    request_line: Option<Value>,
    header_size: Option<Value>,
    body: Option<Value>,
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
#[allow(non_camel_case_types)]
struct Cache_ {
    size_mib: Option<Value>,
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
#[allow(non_camel_case_types)]
struct Handlers_ {
    response_budget_mib: Option<Value>,
    max_deferred: Option<Value>,
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
#[allow(non_camel_case_types)]
struct WebSocket_ {
    max_queue_kib: Option<Value>,
}

impl FileConfig {
    /// (flag, key, value) for every key present, in flag order; or where and why the file
    /// cannot be applied.
    #[allow(clippy::type_complexity)]
    fn settings(
        self,
    ) -> Result<Vec<(&'static str, String, toml::Spanned<String>)>, (usize, String)> {
        let mut out = Vec::new();
        let mut put = |flag: &'static str, key: &str, v: Option<Value>| {
            if let Some(v) = v {
                let span = v.span();
                out.push((
                    flag,
                    key.to_string(),
                    toml::Spanned::new(span, v.into_inner().to_string()),
                ));
            }
        };
        put("--root", "root", self.root);
        put("--threads", "threads", self.threads);
        put("--backend", "backend", self.backend);
        put("--max-conns", "max_conns", self.max_conns);
        put("--uring-features", "uring_features", self.uring_features);
        let t = self.timeouts;
        put("--keepalive-timeout", "timeouts.keepalive", t.keepalive);
        put("--header-timeout", "timeouts.header", t.header);
        put("--body-timeout", "timeouts.body", t.body);
        put("--write-timeout", "timeouts.write", t.write);
        put("--handler-timeout", "timeouts.handler", t.handler);
        let l = self.limits;
        put("--max-request-line", "limits.request_line", l.request_line);
        put("--max-header-size", "limits.header_size", l.header_size);
        put("--max-body", "limits.body", l.body);
        put("--cache-size", "cache.size_mib", self.cache.size_mib);
        let h = self.handlers;
        put(
            "--response-budget",
            "handlers.response_budget_mib",
            h.response_budget_mib,
        );
        put("--max-deferred", "handlers.max_deferred", h.max_deferred);
        put(
            "--ws-max-queue",
            "websocket.max_queue_kib",
            self.websocket.max_queue_kib,
        );
        if let Some(list) = self.listen {
            let span = list.span();
            let list = list.into_inner();
            if list.is_empty() {
                return Err((span.start, "listen: give at least one ADDR:PORT".into()));
            }
            for a in list {
                out.push(("--listen", "listen".into(), a));
            }
        }
        Ok(out)
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
        Config::from_args(args.iter().map(|s| s.to_string())).map(|p| match p {
            Parsed::Run(c) | Parsed::Check(c) => Some(c),
            Parsed::Help | Parsed::Version => None,
        })
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
        assert_eq!(c.listen.len(), 1);
        assert_eq!(c.listen[0].port(), 9000);
        assert_eq!(c.threads, 3);
        assert_eq!(c.backend, Backend::Epoll);
        let c = parse(&["--listen", "127.0.0.1:1", "--listen", "[::1]:2"])
            .unwrap()
            .unwrap();
        assert_eq!(c.listen.len(), 2);
        assert!(c.listen[1].is_ipv6());
        let c = parse(&["--uring-features", "5.15", "--max-conns", "10"])
            .unwrap()
            .unwrap();
        assert_eq!(c.uring_features, UringFeatures::LINUX_5_15);
        assert_eq!(c.max_conns, Some(10));
        assert!(parse(&["--help"]).unwrap().is_none());
    }

    #[test]
    fn the_file_sets_and_flags_override() {
        let dir = std::env::temp_dir().join(format!("ringhttpd-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.toml");
        std::fs::write(
            &path,
            "listen = [\"127.0.0.1:1\", \"[::1]:2\"]\nthreads = 3\n[timeouts]\nkeepalive = 9\n\
             [websocket]\nmax_queue_kib = 2\n",
        )
        .unwrap();
        let p = path.to_str().unwrap();
        let c = parse(&["--config", p]).unwrap().unwrap();
        assert_eq!(c.listen.len(), 2);
        assert_eq!(c.threads, 3);
        assert_eq!(c.keepalive_timeout, Duration::from_secs(9));
        assert_eq!(c.ws_max_queue, 2048);
        // Flags win, wherever they are on the line; --listen replaces the file's list.
        let c = parse(&["--threads", "5", "--config", p, "--listen", "127.0.0.1:7"])
            .unwrap()
            .unwrap();
        assert_eq!(c.threads, 5);
        assert_eq!(c.listen, vec!["127.0.0.1:7".parse().unwrap()]);
        assert_eq!(c.keepalive_timeout, Duration::from_secs(9));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_input_is_explained() {
        for (args, needle) in [
            (&["--threads", "0"][..], "--threads"),
            (&["--threads", "x"][..], "--threads"),
            (&["--listen", "nowhere"][..], "ADDR:PORT"),
            (
                &["--listen", "127.0.0.1:1", "--listen=127.0.0.1:1"][..],
                "twice",
            ),
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
