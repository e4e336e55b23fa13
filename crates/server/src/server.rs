//! [`Server`]: the builder users start from (routes, file mounts, per-core state, settings) and
//! `run`, which starts one worker thread per core, waits for SIGINT/SIGTERM and stops them.
//!
//! Start-up errors (bad flags, address in use, io_uring unavailable with `--backend uring`, a
//! bad route or file mount) are returned before anything is served; the binary prints them as
//! one line and exits 2. Once running, one line says where the server listens and which
//! backend and features each worker uses.

use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use ringhttpd_http::Method;
use ringhttpd_ring::{Driver, EpollDriver, PoolConfig, UringConfig, UringDriver};

use crate::api::{LocalFactory, Reply, Request, Response};
use crate::config::{Backend, Config, Parsed, USAGE};
use crate::conn::Timeouts;
use crate::files::FileCache;
use crate::router::{Router, RouterBuilder};
use crate::sys;
use crate::worker::{self, Seat, Shared, Worker};

/// Receive buffers per worker: 512 x 4 KiB, touched only as they are used.
const POOL: PoolConfig = PoolConfig {
    count: 512,
    size: 4096,
};
/// Descriptors kept for everything that is not a connection.
const RESERVED_FDS: u64 = 64;
/// How often the main thread checks that every worker is alive.
const WATCH_INTERVAL: Duration = Duration::from_millis(200);
/// Time for a closing peer to finish sending (lingering close).
const LINGER_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the server could not start, or stopped abnormally.
pub struct Error {
    msg: String,
    code: u8,
}

impl Error {
    fn start(msg: impl std::fmt::Display) -> Error {
        Error {
            msg: msg.to_string(),
            code: 2,
        }
    }

    /// The exit status this error calls for: 2 for start-up errors (configuration, address in
    /// use), 1 for a worker that died while serving.
    pub fn exit_code(&self) -> u8 {
        self.code
    }

    /// Print `ringhttpd: <why>` to stderr and return the exit status (for `main`).
    pub fn report(&self) -> std::process::ExitCode {
        eprintln!("ringhttpd: {}", self.msg);
        std::process::ExitCode::from(self.code)
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for Error {}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// A server being configured; [`Server::run`] serves it.
///
/// ```no_run
/// use ringhttpd::{Reply, Request, Response, Server};
///
/// fn hello(_: &Request, res: &mut Response) -> Reply {
///     res.text("Hello, World!")
/// }
///
/// fn user(req: &Request, res: &mut Response) -> Reply {
///     let id = req.param("id").unwrap_or("");
///     res.text(&format!("user {id}"))
/// }
///
/// fn main() -> ringhttpd::Result<()> {
///     Server::builder()
///         .listen("127.0.0.1:8080")
///         .get("/hello", hello)
///         .get("/users/:id", user)
///         .files("/", "./www")
///         .run()
/// }
/// ```
pub struct Server {
    cfg: Config,
    routes: RouterBuilder,
    locals: Vec<LocalFactory>,
    /// Problems found while building (reported by `run`).
    errors: Vec<String>,
    publisher: crate::Publisher,
}

impl Server {
    /// A server with the defaults of the `ringhttpd` binary (127.0.0.1:8080, one worker per
    /// CPU, backend auto) and no routes.
    pub fn builder() -> Server {
        Server {
            cfg: Config::default(),
            routes: RouterBuilder::default(),
            locals: Vec::new(),
            errors: Vec::new(),
            publisher: crate::Publisher::default(),
        }
    }

    /// A server configured from the process's command line, with the `ringhttpd` binary's
    /// flags (see `--help`). `--help` prints the usage and exits 0.
    pub fn from_args() -> Result<Server> {
        Server::from_arg_list(std::env::args().skip(1))
    }

    /// [`Server::from_args`] on an explicit list of flags (without the program name).
    pub fn from_arg_list(args: impl IntoIterator<Item = String>) -> Result<Server> {
        match Config::from_args(args) {
            Ok(Parsed::Run(cfg)) => Ok(Server {
                cfg,
                ..Server::builder()
            }),
            Ok(Parsed::Help) => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            Ok(Parsed::Version) => {
                println!("ringhttpd {}", env!("CARGO_PKG_VERSION"));
                std::process::exit(0);
            }
            Ok(Parsed::Check(cfg)) => {
                // What the file system must agree to: the root is a directory.
                match std::fs::metadata(&cfg.root) {
                    Ok(m) if m.is_dir() => {
                        println!("ok");
                        std::process::exit(0);
                    }
                    Ok(_) => Err(Error::start(format!(
                        "root: {}: not a directory",
                        cfg.root.display()
                    ))),
                    Err(e) => Err(Error::start(format!("root: {}: {e}", cfg.root.display()))),
                }
            }
            Err(e) => Err(Error::start(e)),
        }
    }

    /// The `--root` directory (default `./www`), for mounting with [`Server::files`].
    pub fn root(&self) -> &Path {
        &self.cfg.root
    }

    /// Listen on `addr` (`ADDR:PORT`, IPv4 or IPv6; port 0 picks a free one) instead of the
    /// addresses configured so far; [`Server::also_listen`] adds more.
    pub fn listen(mut self, addr: &str) -> Server {
        match addr.parse::<SocketAddr>() {
            Ok(a) => self.cfg.listen = vec![a],
            Err(_) => self
                .errors
                .push(format!("listen: `{addr}` is not an ADDR:PORT")),
        }
        self
    }

    /// Listen on `addr` as well: every worker accepts from every address.
    pub fn also_listen(mut self, addr: &str) -> Server {
        match addr.parse::<SocketAddr>() {
            Ok(a) if !self.cfg.listen.contains(&a) => self.cfg.listen.push(a),
            Ok(_) => {}
            Err(_) => self
                .errors
                .push(format!("also_listen: `{addr}` is not an ADDR:PORT")),
        }
        self
    }

    /// Worker threads (default: the CPUs available).
    pub fn threads(mut self, n: usize) -> Server {
        self.cfg.threads = n.max(1);
        self
    }

    /// The largest request body accepted (413 beyond; default 1 MiB).
    pub fn max_body(mut self, bytes: u64) -> Server {
        self.cfg.limits.max_body = bytes;
        self
    }

    /// How long a deferred answer may take before the client gets 504 (default 30 s).
    pub fn handler_timeout(mut self, t: Duration) -> Server {
        self.cfg.handler_timeout = t;
        self
    }

    /// Heap bytes that generated responses, queued file bodies and gathered request bodies
    /// may hold per process (split across workers; default: the file cache's size, 64 MiB). At the bound, new
    /// requests wait (their connections stop being read) instead of allocating more.
    pub fn response_budget(mut self, bytes: usize) -> Server {
        self.cfg.response_budget = Some(bytes);
        self
    }

    /// Deferred answers awaited per worker at most (default 1024); beyond, requests wait.
    pub fn max_deferred(mut self, n: usize) -> Server {
        self.cfg.max_deferred = n.max(1);
        self
    }

    /// Unsent bytes of published messages one WebSocket subscriber may have queued (default
    /// 1 MiB; each message counts at least 64 bytes); a subscriber past it is closed with 1008.
    pub fn ws_max_queue(mut self, bytes: usize) -> Server {
        self.cfg.ws_max_queue = bytes.max(1);
        self
    }

    /// A handle to publish messages to topics that WebSocket connections subscribe to (see
    /// [`crate::Publisher`]); it works once the server runs, from any thread.
    pub fn publisher(&self) -> crate::Publisher {
        self.publisher.clone()
    }

    /// Route `method` requests for `pattern` to `handler`. Patterns are `/`-separated
    /// segments: literals, `:name` (one non-empty segment) and a final `*name` (the rest of the
    /// path, possibly empty). A `GET` route answers `HEAD` too; a path whose pattern has no
    /// route for the method gets 405 with `Allow`; no pattern, 404.
    pub fn route<H>(mut self, method: Method, pattern: &str, handler: H) -> Server
    where
        H: Fn(&Request<'_>, &mut Response<'_>) -> Reply + Send + Sync + 'static,
    {
        self.routes.handle(method, pattern, Box::new(handler));
        self
    }

    /// [`Server::route`] for `GET` (and `HEAD`).
    pub fn get<H>(self, pattern: &str, handler: H) -> Server
    where
        H: Fn(&Request<'_>, &mut Response<'_>) -> Reply + Send + Sync + 'static,
    {
        self.route(Method::Get, pattern, handler)
    }

    /// [`Server::route`] for `POST`.
    pub fn post<H>(self, pattern: &str, handler: H) -> Server
    where
        H: Fn(&Request<'_>, &mut Response<'_>) -> Reply + Send + Sync + 'static,
    {
        self.route(Method::Post, pattern, handler)
    }

    /// [`Server::route`] for `PUT`.
    pub fn put<H>(self, pattern: &str, handler: H) -> Server
    where
        H: Fn(&Request<'_>, &mut Response<'_>) -> Reply + Send + Sync + 'static,
    {
        self.route(Method::Put, pattern, handler)
    }

    /// [`Server::route`] for `DELETE`.
    pub fn delete<H>(self, pattern: &str, handler: H) -> Server
    where
        H: Fn(&Request<'_>, &mut Response<'_>) -> Reply + Send + Sync + 'static,
    {
        self.route(Method::Delete, pattern, handler)
    }

    /// [`Server::route`] for `PATCH`.
    pub fn patch<H>(self, pattern: &str, handler: H) -> Server
    where
        H: Fn(&Request<'_>, &mut Response<'_>) -> Reply + Send + Sync + 'static,
    {
        self.route(Method::Patch, pattern, handler)
    }

    /// A WebSocket route (RFC 6455): a `GET` for `pattern` with a valid opening handshake is
    /// answered `101 Switching Protocols` (a bad one 400, or 426 for a missing upgrade or a
    /// version other than 13), then every complete message from the client is handed to
    /// `handler`, which may answer through its [`crate::Session`]. Pings are answered, a close is
    /// echoed, violations are closed with the code RFC 6455 §7.4.1 names, messages are bounded
    /// by `--max-body` (1009 beyond), and an idle connection is pinged after the keep-alive
    /// timeout and closed if it does not answer within another.
    pub fn websocket<H>(self, pattern: &str, handler: H) -> Server
    where
        H: Fn(&crate::Message<'_>, &mut crate::Session<'_>) + Send + Sync + 'static,
    {
        self.websocket_route(pattern, crate::WebSocket::new(handler))
    }

    /// A WebSocket route with more than a message handler: an opening handler (to read the
    /// request, subscribe to topics, or refuse), subprotocols, `permessage-deflate` (see
    /// [`crate::WebSocket`]). Otherwise as [`Server::websocket`].
    pub fn websocket_route(mut self, pattern: &str, route: crate::WebSocket) -> Server {
        self.routes.websocket(pattern, route);
        self
    }

    /// A site (virtual host): requests whose Host (port ignored, ASCII case-insensitive) is one
    /// of `names` get their files at `/` from `root` instead of the `files("/", ..)` mount's
    /// directory. The first site is the default for unknown or missing names, unless a site
    /// lists `"*"`. Routes and other mounts are shared by all sites. The config file's
    /// `[[site]]` tables come after the sites added here.
    pub fn site(mut self, names: &[&str], root: impl Into<PathBuf>) -> Server {
        self.routes.site(crate::router::SiteSpec {
            names: names.iter().map(|n| n.to_string()).collect(),
            root: root.into(),
            ..Default::default()
        });
        self
    }

    /// Serve the files under `dir` at `prefix` (`"/"` for the whole site, or `/static`):
    /// `GET`/`HEAD` with conditionals, ranges and compression, from a per-core cache. Paths
    /// not claimed by a more specific route fall through to the mount with the longest
    /// matching prefix.
    pub fn files(mut self, prefix: &str, dir: impl Into<PathBuf>) -> Server {
        if !prefix.starts_with('/') {
            self.errors
                .push(format!("files: the prefix `{prefix}` must start with /"));
            return self;
        }
        self.routes.files(prefix, dir.into());
        self
    }

    /// Per-core state: `factory` runs once on each worker (with the worker's index) and
    /// handlers reach the instance of their worker through [`Request::local`]. Nothing is
    /// shared between workers, so no lock is needed; use `Cell`/`RefCell` inside.
    pub fn local<T: 'static>(
        mut self,
        factory: impl Fn(usize) -> T + Send + Sync + 'static,
    ) -> Server {
        self.locals.push(Box::new(move |i| {
            Box::new(factory(i)) as Box<dyn std::any::Any>
        }));
        self
    }

    /// Serve until SIGINT or SIGTERM, then let in-flight requests finish (at most 3 s).
    /// Returns an error (exit code 2) when the server cannot start, and one with exit code 1
    /// when a worker dies while serving (the other workers are stopped first).
    pub fn run(self) -> Result<()> {
        if let Some(e) = self.errors.first() {
            return Err(Error::start(e));
        }
        let cfg = self.cfg;
        let mut routes = self.routes;
        for site in &cfg.sites {
            routes.site(site.clone());
        }
        let router = routes.build().map_err(Error::start)?;
        for m in &router.mounts {
            let at = if m.prefix.is_empty() { "/" } else { &m.prefix };
            match std::fs::metadata(&m.dir) {
                Ok(md) if md.is_dir() => {}
                Ok(_) => {
                    return Err(Error::start(format!(
                        "files at {at}: {}: not a directory",
                        m.dir.display()
                    )))
                }
                Err(e) => {
                    return Err(Error::start(format!(
                        "files at {at}: {}: {e}",
                        m.dir.display()
                    )))
                }
            }
        }
        let mut root = router
            .mounts
            .iter()
            .find(|m| m.prefix.is_empty())
            .map(|m| format!(" root={}", m.dir.display()))
            .unwrap_or_default();
        if router.sites() > 0 {
            root.push_str(&format!(" sites={}", router.sites()));
        }
        let routes = router.routes();
        run(cfg, router, self.locals, root, routes, self.publisher)
    }
}

fn run(
    cfg: Config,
    router: Router,
    locals: Vec<LocalFactory>,
    root: String,
    routes: usize,
    publisher: crate::Publisher,
) -> Result<()> {
    let per_thread = conn_limit(&cfg).div_ceil(cfg.threads).max(1);
    let (addrs, listeners) = listen_all(&cfg).map_err(Error::start)?;
    let (use_uring, mut note) = choose_backend(&cfg);

    let fault = match std::env::var("RINGHTTPD_TEST_FAULT").ok().as_deref() {
        None | Some("") => None,
        Some("panic") => Some(worker::Fault::Panic),
        Some("error") => Some(worker::Fault::Error),
        Some(other) => {
            return Err(Error::start(format!(
                "RINGHTTPD_TEST_FAULT: `{other}` is not panic or error"
            )))
        }
    };
    let signals = sys::block_stop_signals();
    sys::tune_malloc();
    let shared = Arc::new(Shared {
        limits: cfg.limits,
        timeouts: Timeouts {
            keepalive: cfg.keepalive_timeout,
            header: cfg.header_timeout,
            body: cfg.body_timeout,
            write: cfg.write_timeout,
            linger: LINGER_TIMEOUT,
            handler: cfg.handler_timeout,
        },
        router,
        locals,
        budget: cfg.response_budget.unwrap_or(cfg.cache_size) / cfg.threads,
        max_deferred: cfg.max_deferred.min(u32::MAX as usize) as u32,
        ws_max_queue: cfg.ws_max_queue,
    });
    let cpus = sys::allowed_cpus();
    let pin = cpus.len() >= cfg.threads;
    let (tx, rx) = mpsc::channel::<std::result::Result<String, String>>();
    let mut handles = Vec::new();
    let mut wakes = Vec::new();
    let mut mailboxes = Vec::new();
    let eventfd_pair = || -> std::io::Result<(OwnedFd, OwnedFd)> {
        let w = sys::eventfd()?;
        Ok((w.try_clone()?, w))
    };
    for (i, listeners) in listeners.into_iter().enumerate() {
        let (wake, waker) = eventfd_pair().map_err(|e| Error::start(format!("eventfd: {e}")))?;
        let mail = sys::eventfd().map_err(|e| Error::start(format!("eventfd: {e}")))?;
        let mail = Arc::new(crate::api::Mailbox::new(mail));
        mailboxes.push(mail.clone());
        wakes.push(waker);
        let seat = Seat {
            listeners,
            wake,
            cap: per_thread,
            mail,
            index: i,
        };
        let job = Job {
            // Only the first worker fails, so the test sees the others being stopped.
            fault: if i == 0 { fault } else { None },
            cfg: cfg.clone(),
            use_uring,
            cpu: if pin { Some(cpus[i]) } else { None },
            shared: shared.clone(),
            tx: tx.clone(),
        };
        let h = std::thread::Builder::new()
            .name(format!("ringhttpd-{i}"))
            .spawn(move || worker_main(job, seat))
            .map_err(|e| Error::start(format!("cannot start a worker thread: {e}")))?;
        handles.push(h);
    }
    drop(tx);
    publisher.hub().attach(mailboxes);

    let mut first = None;
    for _ in 0..handles.len() {
        match rx.recv() {
            Ok(Ok(desc)) => {
                if first.is_none() {
                    first = Some(desc);
                } else if first.as_ref() != Some(&desc) {
                    note.push_str(&format!(" (another worker: {desc})"));
                }
            }
            Ok(Err(e)) => {
                wakes.iter().for_each(worker::wake);
                return Err(Error::start(e));
            }
            Err(_) => return Err(Error::start("a worker thread died during start-up")),
        }
    }
    println!(
        "ringhttpd: listening on {} threads={} max-conns={}{} routes={} {}{}",
        addrs
            .iter()
            .map(|a| format!("http://{a}"))
            .collect::<Vec<_>>()
            .join(" "),
        cfg.threads,
        per_thread * cfg.threads,
        root,
        routes,
        first.unwrap_or_default(),
        note
    );

    // Wait for a stop signal, checking a few times a second that every worker is alive: a
    // worker that ends on its own (an error, a panic) takes the process down with a non-zero
    // status, so a supervisor restarts it, instead of leaving its share of connections hanging.
    let dead = loop {
        match sys::wait_signal_timeout(&signals, WATCH_INTERVAL) {
            // A report for tests and operators: heap allocations since start, when the program
            // installed the counting allocator (the hot paths make none; see tests/alloc.rs).
            Some(libc::SIGUSR1) => match crate::alloc_count::get() {
                Some(n) => eprintln!("ringhttpd: allocations={n}"),
                None => eprintln!("ringhttpd: allocations=unknown (no CountingAlloc installed)"),
            },
            Some(sig) => {
                eprintln!("ringhttpd: signal {sig}, finishing in-flight requests");
                break None;
            }
            None => {
                if let Some(i) = handles.iter().position(|h| h.is_finished()) {
                    break Some(i);
                }
            }
        }
    };
    wakes.iter().for_each(worker::wake);
    publisher.hub().detach();
    let mut failure = None;
    for (i, h) in handles.into_iter().enumerate() {
        match h.join() {
            Ok(()) if Some(i) == dead => {
                failure = Some(format!(
                    "worker ringhttpd-{i} stopped unexpectedly; exiting"
                ));
            }
            Ok(()) => {}
            Err(panic) => {
                let why = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                failure = Some(format!("worker ringhttpd-{i} died (panic: {why}); exiting"));
            }
        }
    }
    match failure {
        None => Ok(()),
        Some(msg) => Err(Error { msg, code: 1 }),
    }
}

/// Connections per process: `--max-conns`, bounded by what the open-files limit allows.
fn conn_limit(cfg: &Config) -> usize {
    let nofile = sys::raise_nofile();
    let room = nofile
        .saturating_sub(RESERVED_FDS + 4 * cfg.threads as u64)
        .max(16) as usize;
    match cfg.max_conns {
        Some(n) if n > room => {
            eprintln!(
                "ringhttpd: --max-conns {n} exceeds what the open-files limit ({nofile}) allows; \
                 using {room}"
            );
            room
        }
        Some(n) => n,
        None => room,
    }
}

/// One listener per worker, so that an address in use is reported before anything starts.
/// Port 0 picks a free port once; the other workers join it.
/// One `SO_REUSEPORT` listener per worker per address; returns the addresses (a port 0
/// resolved to the one the kernel picked) and each worker's listeners.
#[allow(clippy::type_complexity)]
fn listen_all(cfg: &Config) -> std::result::Result<(Vec<SocketAddr>, Vec<Vec<OwnedFd>>), String> {
    let mut addrs = cfg.listen.clone();
    let mut per_worker: Vec<Vec<OwnedFd>> = (0..cfg.threads).map(|_| Vec::new()).collect();
    for addr in &mut addrs {
        for listeners in &mut per_worker {
            let fd = sys::listener(*addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            if addr.port() == 0 {
                addr.set_port(sys::local_port(&fd).map_err(|e| format!("{addr}: {e}"))?);
            }
            listeners.push(fd);
        }
    }
    Ok((addrs, per_worker))
}

/// Decide the backend once for all workers: (io_uring?, a note for the start-up line).
fn choose_backend(cfg: &Config) -> (bool, String) {
    match cfg.backend {
        Backend::Epoll => (false, String::new()),
        Backend::Uring => (true, String::new()),
        // The probe is a ring like the workers' own, so memlock limits are met here first.
        Backend::Auto => match UringDriver::new(uring_config(cfg)) {
            Ok(_) => (true, String::new()),
            Err(e) => (false, format!(" (io_uring unavailable, using epoll: {e})")),
        },
    }
}

fn uring_config(cfg: &Config) -> UringConfig {
    UringConfig {
        entries: 1024,
        pool: POOL,
        allow: cfg.uring_features,
    }
}

/// What a worker thread is started with, besides its [`Seat`].
struct Job {
    /// A fault to inject (tests only, `RINGHTTPD_TEST_FAULT`).
    fault: Option<worker::Fault>,
    cfg: Config,
    use_uring: bool,
    cpu: Option<usize>,
    shared: Arc<Shared>,
    tx: mpsc::Sender<std::result::Result<String, String>>,
}

fn worker_main(job: Job, seat: Seat) {
    if let Some(cpu) = job.cpu {
        // Best effort: an unpinned worker still works.
        let _ = sys::pin_to(cpu);
    }
    let cfg = &job.cfg;
    if job.use_uring {
        match UringDriver::new(uring_config(cfg)) {
            Ok(d) => return serve(d, job, seat),
            Err(e) if cfg.backend == Backend::Uring => {
                let _ = job.tx.send(Err(format!("--backend uring: {e}")));
                return;
            }
            Err(e) => eprintln!("ringhttpd: io_uring failed on this worker ({e}); using epoll"),
        }
    }
    match EpollDriver::new(POOL) {
        Ok(d) => serve(d, job, seat),
        Err(e) => {
            let _ = job.tx.send(Err(format!("epoll: {e}")));
        }
    }
}

fn serve<D: Driver>(d: D, job: Job, seat: Seat) {
    let cfg = &job.cfg;
    let mounts = &job.shared.router.mounts;
    let share = cfg.cache_size / cfg.threads / mounts.len().max(1);
    let mut files = Vec::with_capacity(mounts.len());
    for m in mounts {
        match FileCache::new(&m.dir, share) {
            Ok(mut f) => {
                f.set_error_pages(&m.error_pages);
                f.set_header_rules(&m.header_rules);
                files.push(f)
            }
            Err(e) => {
                let _ = job.tx.send(Err(format!("files {}: {e}", m.dir.display())));
                return;
            }
        }
    }
    let desc = match files.first() {
        Some(f) => format!("{} {}", d.describe(), f.describe()),
        None => d.describe(),
    };
    let mut w = Worker::new(d, seat, job.shared, files);
    w.inject(job.fault);
    let _ = job.tx.send(Ok(desc));
    drop(job.tx);
    if let Err(e) = w.run() {
        eprintln!("ringhttpd: worker stopped: {e}");
        return; // the main thread sees the thread end before a stop and exits non-zero
    }
    eprintln!(
        "ringhttpd: {}: {}",
        std::thread::current().name().unwrap_or("worker"),
        w.report()
    );
}
