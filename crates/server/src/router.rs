//! The route table: patterns (`/users/:id`, `/static/*rest`, file mounts) by method, built once
//! at start and shared, immutable, by every worker (read without locks).
//!
//! Matching is on the request's path, percent-decoded and with dot segments resolved when it
//! needs it (`ringhttpd_http::normalize_path`, into per-core scratch: the common path, plain
//! ASCII with no `%` and no `.` or empty segment, is matched in place). Patterns are tried from
//! the most specific to the least (a literal segment before a `:param` before a `*rest`, then
//! in registration order), and the first whose path matches decides: its handler for the method,
//! `HEAD` served by a `GET` handler, or 405 with the pattern's `Allow`. No pattern: 404.

use std::path::PathBuf;

use ringhttpd_http::{normalize_path, Method, PathError};

use crate::api::{Reply, Request, Response};
use crate::websocket::WebSocket;

/// A request handler: runs on the worker that owns the connection, must not block.
pub type Handler = dyn Fn(&Request<'_>, &mut Response<'_>) -> Reply + Send + Sync + 'static;

/// At most this many `:param`/`*rest` captures per pattern.
pub const MAX_PARAMS: usize = 8;
/// Longest path routed (longer ones are answered 414 by the parser's request-line limit first).
pub const MAX_PATH: usize = 8192;

/// Methods a pattern can be registered for, by index.
const METHODS: [(Method, &str); 9] = [
    (Method::Get, "GET"),
    (Method::Head, "HEAD"),
    (Method::Post, "POST"),
    (Method::Put, "PUT"),
    (Method::Delete, "DELETE"),
    (Method::Options, "OPTIONS"),
    (Method::Patch, "PATCH"),
    (Method::Trace, "TRACE"),
    (Method::Connect, "CONNECT"),
];

#[inline]
fn method_index(m: Method) -> Option<usize> {
    Some(match m {
        Method::Get => 0,
        Method::Head => 1,
        Method::Post => 2,
        Method::Put => 3,
        Method::Delete => 4,
        Method::Options => 5,
        Method::Patch => 6,
        Method::Trace => 7,
        Method::Connect => 8,
        Method::Other => return None,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Lit(Box<[u8]>),
    Param(Box<str>),
    /// The rest of the path, possibly empty. Named for handlers; unnamed for file mounts.
    Rest(Box<str>),
}

impl Seg {
    /// Lower is more specific.
    fn rank(&self) -> u8 {
        match self {
            Seg::Lit(_) => 0,
            Seg::Param(_) => 1,
            Seg::Rest(_) => 2,
        }
    }
}

/// What a route answers with.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// Index into [`Router::handlers`].
    Handler(u16),
    /// Index into [`Router::mounts`].
    Files(u8),
    /// Index into the WebSocket handlers.
    WebSocket(u16),
}

struct Entry {
    /// The whole path this pattern matches when it is literal segments only (`/api/v1/users`).
    exact: Option<Box<[u8]>>,
    pattern: String,
    segs: Vec<Seg>,
    by_method: [Option<Target>; METHODS.len()],
    /// `Allow` value for 405s.
    allow: Box<[u8]>,
}

/// A site: the Host names it answers to (lowercase, no port) and the mount of its root.
#[derive(Clone, Debug)]
pub struct Site {
    pub names: Vec<Box<[u8]>>,
    pub mount: u8,
}

/// A file tree served under a path prefix.
#[derive(Clone, Debug)]
pub struct Mount {
    /// `""` for the root mount, else `/prefix` (no trailing slash).
    pub prefix: String,
    pub dir: PathBuf,
    /// The site's pages for error statuses (status, path under `dir` starting with `/`).
    pub error_pages: Vec<(u16, String)>,
    /// The site's header rules.
    pub header_rules: Vec<crate::files::HeaderRule>,
}

/// The routing table (see the module docs).
pub struct Router {
    entries: Vec<Entry>,
    /// Sites by Host name (see [`RouterBuilder::site`]); empty: one site.
    sites: Vec<Site>,
    /// The site for a Host no site names (or none given).
    default_site: usize,
    /// The root mount (`/`), which sites replace by their own.
    root_mount: Option<u8>,
    handlers: Vec<Box<Handler>>,
    ws_routes: Vec<WebSocket>,
    pub mounts: Vec<Mount>,
    /// `Allow` for `OPTIONS *`: every method some route accepts.
    pub server_allow: Box<[u8]>,
}

/// Captures of one match: byte ranges into the routed path.
#[derive(Copy, Clone, Debug, Default)]
pub struct Params {
    pub n: u8,
    pub spans: [(u16, u16); MAX_PARAMS],
}

/// Who answers a request, as routing decided.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Responder {
    /// A registered handler; `entry` names the pattern (for parameter names).
    Handler { id: u16, entry: u16 },
    /// A file mount; the file path is the routed path from byte `from` on.
    Files { mount: u8, from: u16 },
    /// A WebSocket route: the upgrade, then its message handler; `entry` as for `Handler`.
    WebSocket { id: u16, entry: u16 },
    /// The server as a whole: the asterisk-form target (RFC 9112 §3.2.4), `OPTIONS *` only.
    Server,
    /// No pattern matches the path.
    NotFound,
    /// A pattern matches, not for this method: 405 with its `Allow`.
    NotAllowed { entry: u16 },
    /// A method this server does not know: 501.
    NotImplemented,
    /// The path cannot be decoded: 400.
    BadPath(PathError),
}

/// What a request's body is for.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum BodyUse {
    /// Not read by the responder: skipped (so the next pipelined request starts at the right
    /// byte) while the response goes out at once.
    Discard,
    /// Gathered whole (bounded by `max_body`) before the handler runs.
    Gather,
}

impl Responder {
    /// What happens to the request body.
    #[inline]
    pub fn body(self) -> BodyUse {
        match self {
            Responder::Handler { .. } => BodyUse::Gather,
            _ => BodyUse::Discard,
        }
    }
}

/// Per-core scratch for decoding paths (reused, never zeroed per request).
pub struct PathScratch {
    decode: Box<[u8]>,
    norm: Box<[u8]>,
    /// `/` + the normalised path (+ `/` for a directory), when the raw path needed decoding.
    pub path: Vec<u8>,
}

impl PathScratch {
    pub fn new() -> PathScratch {
        PathScratch {
            decode: vec![0; MAX_PATH].into_boxed_slice(),
            norm: vec![0; MAX_PATH].into_boxed_slice(),
            path: Vec::with_capacity(MAX_PATH + 2),
        }
    }
}

/// The path a request is routed on: the raw one when it is already normal.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RoutedPath {
    Raw,
    Decoded,
}

/// Whether `p` (starting with `/`) may need decoding or normalising before matching: a `%`, a
/// byte that is not ASCII, or a segment that is empty or starts with `.` (conservative: a
/// `/.well-known` path takes the slow path too, which is as right, only slower).
#[inline]
fn needs_normalizing(p: &[u8]) -> bool {
    let mut prev = 0u8;
    for &b in p {
        if b == b'%' || b >= 0x80 || (prev == b'/' && (b == b'/' || b == b'.')) {
            return true;
        }
        prev = b;
    }
    false
}

impl Router {
    #[cfg(test)]
    pub fn builder() -> RouterBuilder {
        RouterBuilder::default()
    }

    #[inline]
    pub fn handler(&self, id: u16) -> &Handler {
        &*self.handlers[id as usize]
    }

    /// The mount that serves files for `mount` (as routing chose it) given the request's
    /// `host` (the Host field or the absolute-form authority): the root mount is the selected
    /// site's. No allocation: names are compared in place.
    #[inline]
    pub fn site_mount(&self, mount: u8, host: Option<&[u8]>) -> u8 {
        if self.sites.is_empty() || Some(mount) != self.root_mount {
            return mount;
        }
        let name = host.map(host_name).unwrap_or(b"");
        let site = self
            .sites
            .iter()
            .position(|s| s.names.iter().any(|n| n.eq_ignore_ascii_case(name)))
            .unwrap_or(self.default_site);
        self.sites[site].mount
    }

    /// Sites configured (0: one site, the root mount).
    pub fn sites(&self) -> usize {
        self.sites.len()
    }

    #[inline]
    pub fn ws_route(&self, id: u16) -> &WebSocket {
        &self.ws_routes[id as usize]
    }

    pub fn allow(&self, entry: u16) -> &[u8] {
        &self.entries[entry as usize].allow
    }

    /// The name of capture `i` of pattern `entry`.
    pub fn param_name(&self, entry: u16, i: usize) -> &str {
        self.entries[entry as usize]
            .segs
            .iter()
            .filter_map(|s| match s {
                Seg::Param(n) | Seg::Rest(n) => Some(&**n),
                Seg::Lit(_) => None,
            })
            .nth(i)
            .unwrap_or("")
    }

    /// The pattern text of `entry` (for logs and tests).
    #[allow(dead_code)]
    pub fn pattern(&self, entry: u16) -> &str {
        &self.entries[entry as usize].pattern
    }

    pub fn routes(&self) -> usize {
        self.entries.len()
    }

    /// Route `path` (the request's path, starting with `/` or `*`) for `method`. When the path
    /// had to be decoded, the routed path is in `scratch.path`.
    pub fn route(
        &self,
        method: Method,
        path: &[u8],
        scratch: &mut PathScratch,
        params: &mut Params,
    ) -> (Responder, RoutedPath) {
        if path == b"*" {
            return (Responder::Server, RoutedPath::Raw);
        }
        let Some(mi) = method_index(method) else {
            return (Responder::NotImplemented, RoutedPath::Raw);
        };
        // A path that is exactly a literal pattern needs no decoding, and that pattern is the
        // most specific one that can match it.
        for (i, e) in self.entries.iter().enumerate() {
            if e.exact.as_deref() == Some(path) {
                params.n = 0;
                return (
                    self.decide(i, e, method, mi, path.len() as u16),
                    RoutedPath::Raw,
                );
            }
        }
        let (p, which) = if path.first() == Some(&b'/') && !needs_normalizing(path) {
            (path, RoutedPath::Raw)
        } else {
            match normalize_path(path, &mut scratch.decode, &mut scratch.norm) {
                Ok(np) => {
                    let out = &mut scratch.path;
                    out.clear();
                    out.push(b'/');
                    out.extend_from_slice(&scratch.norm[..np.len]);
                    if np.dir && np.len > 0 {
                        out.push(b'/');
                    }
                    (&scratch.path[..], RoutedPath::Decoded)
                }
                Err(e) => return (Responder::BadPath(e), RoutedPath::Raw),
            }
        };
        for (i, e) in self.entries.iter().enumerate() {
            params.n = 0;
            let Some(rest_from) = match_segs(&e.segs, p, params) else {
                continue;
            };
            return (self.decide(i, e, method, mi, rest_from), which);
        }
        (Responder::NotFound, which)
    }

    /// The responder of entry `i` (which matched the path) for `method`.
    #[inline]
    fn decide(&self, i: usize, e: &Entry, method: Method, mi: usize, rest_from: u16) -> Responder {
        let target = e.by_method[mi].or(if method == Method::Head {
            e.by_method[0]
        } else {
            None
        });
        match target {
            Some(Target::Handler(id)) => Responder::Handler {
                id,
                entry: i as u16,
            },
            Some(Target::Files(mount)) => Responder::Files {
                mount,
                from: rest_from,
            },
            Some(Target::WebSocket(id)) => Responder::WebSocket {
                id,
                entry: i as u16,
            },
            None => Responder::NotAllowed { entry: i as u16 },
        }
    }
}

/// A Host value's name: without the port, and without the brackets of an IPv6 literal's.
fn host_name(h: &[u8]) -> &[u8] {
    let h = ringhttpd_http::trim_ows(h);
    if let Some(rest) = h.strip_prefix(b"[") {
        return rest.split(|&b| b == b']').next().unwrap_or(rest);
    }
    let h = h.split(|&b| b == b':').next().unwrap_or(h);
    h.strip_suffix(b".").unwrap_or(h)
}

/// Match `segs` against `p` (starts with `/`), recording captures; returns where the `*rest`
/// capture starts (or `p.len()`), or `None`.
#[inline]
fn match_segs(segs: &[Seg], p: &[u8], params: &mut Params) -> Option<u16> {
    let mut pos = 0; // at a `/`, or at p.len()
    for seg in segs {
        if let Seg::Rest(name) = seg {
            if !name.is_empty() {
                // A named rest capture excludes its leading slash.
                let from = (pos + 1).min(p.len());
                push(params, from, p.len());
            }
            return Some(pos as u16);
        }
        if pos >= p.len() {
            return None;
        }
        let start = pos + 1;
        let end = p[start..]
            .iter()
            .position(|&b| b == b'/')
            .map_or(p.len(), |k| start + k);
        let s = &p[start..end];
        match seg {
            Seg::Lit(l) => {
                if **l != *s {
                    return None;
                }
            }
            Seg::Param(_) => {
                if s.is_empty() {
                    return None;
                }
                push(params, start, end);
            }
            Seg::Rest(_) => unreachable!(),
        }
        pos = end;
    }
    // Everything must be consumed; the root pattern `/` matches the path `/`.
    (pos == p.len() || (segs.is_empty() && p == b"/")).then_some(p.len() as u16)
}

#[inline]
fn push(params: &mut Params, start: usize, end: usize) {
    let i = params.n as usize;
    if i < MAX_PARAMS {
        params.spans[i] = (start as u16, end as u16);
        params.n += 1;
    }
}

/// A bad route pattern, found when the server is built.
fn parse_pattern(pattern: &str) -> Result<Vec<Seg>, String> {
    let Some(body) = pattern.strip_prefix('/') else {
        return Err(format!("route `{pattern}`: a pattern starts with `/`"));
    };
    let mut segs = Vec::new();
    if body.is_empty() {
        return Ok(segs);
    }
    let parts: Vec<&str> = body.split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        let seg = if let Some(name) = part.strip_prefix(':') {
            if name.is_empty() {
                return Err(format!("route `{pattern}`: `:` needs a parameter name"));
            }
            Seg::Param(name.into())
        } else if let Some(name) = part.strip_prefix('*') {
            if i + 1 != parts.len() {
                return Err(format!(
                    "route `{pattern}`: `*{name}` must be the last segment"
                ));
            }
            if name.is_empty() {
                return Err(format!("route `{pattern}`: `*` needs a parameter name"));
            }
            Seg::Rest(name.into())
        } else {
            if part.is_empty() && i + 1 != parts.len() {
                return Err(format!("route `{pattern}`: empty segment"));
            }
            if *part == "." || *part == ".." || part.contains('%') {
                return Err(format!(
                    "route `{pattern}`: segments are matched decoded; `.`, `..` and `%` cannot match"
                ));
            }
            Seg::Lit(part.as_bytes().into())
        };
        segs.push(seg);
    }
    if segs.iter().filter(|s| !matches!(s, Seg::Lit(_))).count() > MAX_PARAMS {
        return Err(format!(
            "route `{pattern}`: more than {MAX_PARAMS} parameters"
        ));
    }
    Ok(segs)
}

/// A site as configured.
#[derive(Clone, Debug, Default)]
pub struct SiteSpec {
    /// Host names (`*`: the default site).
    pub names: Vec<String>,
    pub root: PathBuf,
    /// (status, path under the root starting with `/`).
    pub error_pages: Vec<(u16, String)>,
    pub header_rules: Vec<crate::files::HeaderRule>,
}

/// Collects routes; [`RouterBuilder::build`] checks and orders them.
#[derive(Default)]
pub struct RouterBuilder {
    routes: Vec<(Method, String, Target)>,
    /// Each site, in order (the first is the default).
    sites: Vec<SiteSpec>,
    handlers: Vec<Box<Handler>>,
    ws_routes: Vec<WebSocket>,
    pub mounts: Vec<Mount>,
}

impl RouterBuilder {
    pub fn handle(&mut self, method: Method, pattern: &str, h: Box<Handler>) {
        let id = self.handlers.len() as u16;
        self.handlers.push(h);
        self.routes
            .push((method, pattern.to_string(), Target::Handler(id)));
    }

    pub fn websocket(&mut self, pattern: &str, ws: WebSocket) {
        let id = self.ws_routes.len() as u16;
        self.ws_routes.push(ws);
        self.routes
            .push((Method::Get, pattern.to_string(), Target::WebSocket(id)));
    }

    pub fn files(&mut self, prefix: &str, dir: PathBuf) {
        let prefix = prefix.trim_end_matches('/').to_string();
        let id = self.mounts.len() as u8;
        self.mounts.push(Mount {
            prefix: prefix.clone(),
            dir,
            error_pages: Vec::new(),
            header_rules: Vec::new(),
        });
        self.routes
            .push((Method::Get, format!("{prefix}/*"), Target::Files(id)));
    }

    /// A site: requests whose Host (port ignored, ASCII case-insensitive) is one of `names`
    /// get their files from `root` instead of the root mount's directory. The first site is
    /// the default for unknown or missing names, unless a site says `"*"`. Handler routes and
    /// other mounts are the same for every site. Needs a root mount (`files("/", ..)`).
    pub fn site(&mut self, site: SiteSpec) {
        self.sites.push(site);
    }

    pub fn build(mut self) -> Result<Router, String> {
        let root_mount = self.mounts.iter().position(|m| m.prefix.is_empty());
        let mut sites = Vec::new();
        let mut default_site = 0;
        let mut seen: Vec<String> = Vec::new();
        for (i, site) in std::mem::take(&mut self.sites).into_iter().enumerate() {
            let SiteSpec {
                names,
                root,
                error_pages,
                header_rules,
            } = site;
            let Some(rm) = root_mount else {
                return Err("sites need a file mount at / (files(\"/\", ..))".into());
            };
            // The first site takes over the root mount; the others get mounts of their own
            // (not routed by prefix: chosen by Host).
            let mount = if i == 0 {
                self.mounts[rm].dir = root;
                self.mounts[rm].error_pages = error_pages;
                self.mounts[rm].header_rules = header_rules;
                rm
            } else {
                self.mounts.push(Mount {
                    prefix: String::new(),
                    dir: root,
                    error_pages,
                    header_rules,
                });
                self.mounts.len() - 1
            };
            let mut keep = Vec::new();
            for n in names {
                let n = n.to_ascii_lowercase();
                if n == "*" {
                    default_site = i;
                    continue;
                }
                if n.is_empty() || n.contains([':', '/', ' ']) {
                    return Err(format!("site {}: `{n}` is not a host name", i + 1));
                }
                if seen.contains(&n) {
                    return Err(format!("site {}: `{n}` is claimed by two sites", i + 1));
                }
                seen.push(n.clone());
                keep.push(n.into_bytes().into_boxed_slice());
            }
            sites.push(Site {
                names: keep,
                mount: mount as u8,
            });
        }
        if self.mounts.len() > 255 {
            return Err("at most 255 file mounts".into());
        }
        if self.handlers.len() > u16::MAX as usize {
            return Err("too many handlers".into());
        }
        if self.ws_routes.len() > 256 {
            // A connection keeps its route in one byte.
            return Err("at most 256 WebSocket routes".into());
        }
        let mut entries: Vec<Entry> = Vec::new();
        for (method, pattern, target) in self.routes {
            let segs = if let Target::Files(_) = target {
                // `/prefix/*`: an unnamed rest (the mount's path).
                let mut s = parse_pattern(pattern.trim_end_matches("/*")).or_else(|e| {
                    if pattern == "/*" {
                        Ok(Vec::new())
                    } else {
                        Err(e)
                    }
                })?;
                s.push(Seg::Rest("".into()));
                s
            } else {
                parse_pattern(&pattern)?
            };
            let mi = method_index(method)
                .ok_or_else(|| format!("route `{pattern}`: unsupported method"))?;
            let e = match entries.iter_mut().find(|e| e.segs == segs) {
                Some(e) => e,
                None => {
                    let exact = segs
                        .iter()
                        .all(|s| matches!(s, Seg::Lit(_)))
                        .then(|| pattern.as_bytes().into());
                    entries.push(Entry {
                        exact,
                        pattern: pattern.clone(),
                        segs,
                        by_method: [None; METHODS.len()],
                        allow: Box::new([]),
                    });
                    entries.last_mut().expect("just pushed")
                }
            };
            if e.by_method[mi].is_some() {
                return Err(format!(
                    "route {} `{pattern}` is registered twice",
                    METHODS[mi].1
                ));
            }
            e.by_method[mi] = Some(target);
        }
        let mut all = [false; METHODS.len()];
        for e in &mut entries {
            let mut allow = Vec::new();
            for (i, (_, name)) in METHODS.iter().enumerate() {
                // A GET route answers HEAD too.
                let on = e.by_method[i].is_some() || (i == 1 && e.by_method[0].is_some());
                if on {
                    all[i] = true;
                    if !allow.is_empty() {
                        allow.extend_from_slice(b", ");
                    }
                    allow.extend_from_slice(name.as_bytes());
                }
            }
            e.allow = allow.into_boxed_slice();
        }
        // Most specific first; the sort is stable, so registration order breaks ties.
        entries.sort_by(|a, b| {
            let ka = a.segs.iter().map(Seg::rank);
            let kb = b.segs.iter().map(Seg::rank);
            ka.cmp(kb).then_with(|| b.segs.len().cmp(&a.segs.len()))
        });
        let mut server_allow = Vec::new();
        for (i, (_, name)) in METHODS.iter().enumerate() {
            if all[i] {
                if !server_allow.is_empty() {
                    server_allow.extend_from_slice(b", ");
                }
                server_allow.extend_from_slice(name.as_bytes());
            }
        }
        if server_allow.is_empty() {
            server_allow.extend_from_slice(b"GET, HEAD");
        }
        Ok(Router {
            entries,
            handlers: self.handlers,
            ws_routes: self.ws_routes,
            sites,
            default_site,
            root_mount: root_mount.map(|m| m as u8),
            mounts: self.mounts,
            server_allow: server_allow.into_boxed_slice(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noop() -> Box<Handler> {
        Box::new(|_, res| res.empty())
    }

    fn router() -> Router {
        let mut b = Router::builder();
        b.handle(Method::Get, "/hello", noop());
        b.handle(Method::Get, "/users/:id", noop());
        b.handle(Method::Delete, "/users/:id", noop());
        b.handle(Method::Post, "/users/new", noop());
        b.handle(Method::Get, "/files/*path", noop());
        b.handle(Method::Get, "/", noop());
        b.files("/static", "/tmp".into());
        b.files("/", "/tmp".into());
        b.build().unwrap()
    }

    fn route(r: &Router, m: Method, p: &str) -> (Responder, Vec<String>) {
        let mut s = PathScratch::new();
        let mut params = Params::default();
        let (resp, which) = r.route(m, p.as_bytes(), &mut s, &mut params);
        let path: &[u8] = match which {
            RoutedPath::Raw => p.as_bytes(),
            RoutedPath::Decoded => &s.path,
        };
        let caps = (0..params.n as usize)
            .map(|i| {
                let (a, b) = params.spans[i];
                String::from_utf8(path[a as usize..b as usize].to_vec()).unwrap()
            })
            .collect();
        (resp, caps)
    }

    #[test]
    fn specific_before_general() {
        let r = router();
        assert!(matches!(
            route(&r, Method::Get, "/hello").0,
            Responder::Handler { id: 0, .. }
        ));
        let (resp, caps) = route(&r, Method::Get, "/users/42");
        assert!(matches!(resp, Responder::Handler { id: 1, .. }));
        assert_eq!(caps, ["42"]);
        assert!(matches!(
            route(&r, Method::Delete, "/users/42").0,
            Responder::Handler { id: 2, .. }
        ));
        // The literal wins over the parameter, and decides the method.
        let (resp, _) = route(&r, Method::Get, "/users/new");
        let Responder::NotAllowed { entry } = resp else {
            panic!("{resp:?}")
        };
        assert_eq!(r.allow(entry), b"POST");
        let (resp, _) = route(&r, Method::Post, "/users/42");
        let Responder::NotAllowed { entry } = resp else {
            panic!()
        };
        assert_eq!(r.allow(entry), b"GET, HEAD, DELETE");
        // HEAD falls back to GET.
        assert!(matches!(
            route(&r, Method::Head, "/hello").0,
            Responder::Handler { id: 0, .. }
        ));
        let (resp, caps) = route(&r, Method::Get, "/files/a/b.txt");
        assert!(matches!(resp, Responder::Handler { id: 4, .. }));
        assert_eq!(caps, ["a/b.txt"]);
        assert!(matches!(
            route(&r, Method::Get, "/").0,
            Responder::Handler { id: 5, .. }
        ));
        assert_eq!(
            route(&r, Method::Get, "/static/css/a.css").0,
            Responder::Files { mount: 0, from: 7 }
        );
        assert_eq!(
            route(&r, Method::Get, "/static").0,
            Responder::Files { mount: 0, from: 7 }
        );
        assert_eq!(
            route(&r, Method::Get, "/index.html").0,
            Responder::Files { mount: 1, from: 0 }
        );
        // `/users/` has an empty id: not the parameter route; the file mount catches it.
        assert_eq!(
            route(&r, Method::Get, "/users/").0,
            Responder::Files { mount: 1, from: 0 }
        );
        assert_eq!(
            route(&r, Method::Other, "/hello").0,
            Responder::NotImplemented
        );
        assert_eq!(route(&r, Method::Options, "*").0, Responder::Server);
        assert_eq!(&*r.server_allow, b"GET, HEAD, POST, DELETE");
    }

    #[test]
    fn paths_are_decoded_before_matching() {
        let r = router();
        let (resp, caps) = route(&r, Method::Get, "/users/a%20b");
        assert!(matches!(resp, Responder::Handler { id: 1, .. }));
        assert_eq!(caps, ["a b"]);
        assert!(matches!(
            route(&r, Method::Get, "/x/../hello").0,
            Responder::Handler { id: 0, .. }
        ));
        assert!(matches!(
            route(&r, Method::Get, "//hello").0,
            Responder::Handler { id: 0, .. }
        ));
        assert!(matches!(
            route(&r, Method::Get, "/./hello").0,
            Responder::Handler { id: 0, .. }
        ));
        assert_eq!(
            route(&r, Method::Get, "/../x").0,
            Responder::BadPath(PathError::EscapesRoot)
        );
        assert_eq!(
            route(&r, Method::Get, "/a%zz").0,
            Responder::BadPath(PathError::BadEscape)
        );
    }

    #[test]
    fn the_fast_path_is_taken_only_for_normal_paths() {
        for p in ["/", "/hello", "/a/b.c/d", "/users/42"] {
            assert!(!needs_normalizing(p.as_bytes()), "{p}");
        }
        for p in [
            "//a",
            "/a//b",
            "/./a",
            "/a/..",
            "/a%20",
            "/\u{e9}",
            "/.well-known",
        ] {
            assert!(needs_normalizing(p.as_bytes()), "{p}");
        }
        for (i, (m, _)) in METHODS.iter().enumerate() {
            assert_eq!(method_index(*m), Some(i));
        }
    }

    #[test]
    fn without_a_mount_unknown_paths_are_not_found() {
        let mut b = Router::builder();
        b.handle(Method::Get, "/a/:x/c", noop());
        let r = b.build().unwrap();
        assert_eq!(route(&r, Method::Get, "/a/b").0, Responder::NotFound);
        assert_eq!(route(&r, Method::Get, "/a/b/c/d").0, Responder::NotFound);
        let (resp, caps) = route(&r, Method::Get, "/a/b/c");
        assert!(matches!(resp, Responder::Handler { .. }));
        assert_eq!(caps, ["b"]);
        assert_eq!(r.param_name(0, 0), "x");
    }

    #[test]
    fn bad_patterns_are_refused() {
        for (p, needle) in [
            ("nope", "starts with"),
            ("/a/:", "parameter name"),
            ("/*rest/x", "last segment"),
            ("/a//b", "empty segment"),
            ("/a/%20", "decoded"),
        ] {
            let mut b = Router::builder();
            b.handle(Method::Get, p, noop());
            let e = b.build().err().unwrap();
            assert!(e.contains(needle), "{p}: {e}");
        }
        let mut b = Router::builder();
        b.handle(Method::Get, "/a", noop());
        b.handle(Method::Get, "/a", noop());
        assert!(b.build().err().unwrap().contains("twice"));
    }
}
