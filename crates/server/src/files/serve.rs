//! The file responder: a cache lookup turned into a response — conditionals, single ranges and
//! content codings (the RFC 9110 logic itself is in the http crate), the body queued as a
//! reference into the cache entry.

use std::rc::Rc;

use ringhttpd_http::{
    choose_coding, evaluate, if_range_holds, parse_range, Coding, Conditions, Method, Precondition,
    Range, Request,
};

use super::{FileCache, FileEntry, Lookup};
use crate::respond::{Response, TEXT_PLAIN_UTF8};

/// Answer a `GET`/`HEAD` for `path` (relative to the mount at `prefix`, which is `""` for the
/// root mount) from the file tree; returns the status. `decoded`: see [`FileCache::resolve`].
pub fn serve(
    req: &Request<'_, '_>,
    path: &[u8],
    prefix: &[u8],
    decoded: bool,
    res: &mut Response<'_>,
    files: &mut FileCache,
    now: u32,
) -> u16 {
    if path.is_empty() {
        // The mount point itself, named without its slash.
        return res.status(
            301,
            &[b"Location: ", prefix, b"/", req.query(), b"\r\n"],
            b"",
        );
    }
    match files.resolve(path, now, decoded) {
        Err(e) => res.status(400, &[], e.detail().as_bytes()),
        Ok(Lookup::File(entry)) => file(req, &entry, res, files),
        Ok(Lookup::Redirect) => {
            // Same-origin, always: the normalised path (one leading `/`, no empty segments), so
            // `//host/..` or encoded dot segments can never turn into another host.
            let norm = files.normalized();
            let slash: &[u8] = if norm.is_empty() { b"" } else { b"/" };
            res.status(
                301,
                &[
                    b"Location: ",
                    prefix,
                    b"/",
                    norm,
                    slash,
                    req.query(),
                    b"\r\n",
                ],
                b"",
            )
        }
        Ok(Lookup::Forbidden) => error(res, files, now, 403),
        Ok(Lookup::NotFound) => error(res, files, now, 404),
        Ok(Lookup::Error) => res.status(500, &[], b""),
    }
}

/// An error status: the site's page for it from the cache (whole, identity, no validators:
/// conditionals and ranges are about the resource asked for, which this is not), or the plain
/// answer when there is none (or it cannot be read now).
fn error(res: &mut Response<'_>, files: &mut FileCache, now: u32, status: u16) -> u16 {
    let entry = match files.error_page(status) {
        Some(p) => match files.resolve(&p, now, true) {
            Ok(Lookup::File(e)) => Some(e),
            _ => None,
        },
        None => None,
    };
    let Some(e) = entry else {
        return res.status(status, &[], b"");
    };
    let head_start = res.out.data.len();
    res.start(status);
    res.header(&[&e.head]);
    let len = e.body(Coding::Identity).1;
    res.finish(len as u64);
    if !res.head_only && res.out.push_body(&e, Coding::Identity, 0, len).is_err() {
        res.out.rewind(head_start);
        return res.status(500, &[], b"");
    }
    status
}

/// Evaluate the preconditions against the representation in `coding`; the response when they
/// end the request (304, 412).
fn preconditions(
    res: &mut Response<'_>,
    cond: &Conditions<'_>,
    e: &FileEntry,
    coding: Coding,
) -> Option<u16> {
    let etag = e.etag_of(coding);
    match evaluate(cond, etag, e.mtime, true) {
        Precondition::Proceed => None,
        Precondition::NotModified => Some(not_modified(res, e, etag)),
        Precondition::Failed => Some(res.status(412, &[], b"")),
    }
}

fn not_modified(res: &mut Response<'_>, e: &FileEntry, etag: &[u8]) -> u16 {
    res.start(304);
    res.header(&[
        b"ETag: ",
        etag,
        b"\r\nLast-Modified: ",
        &e.last_modified,
        b"\r\n",
        &e.extra,
    ]);
    if e.compressible {
        res.header(&[b"Vary: Accept-Encoding\r\n"]);
    }
    // 304 carries no body and no Content-Length that could be mistaken for one.
    res.finish_without_length();
    304
}

fn file(
    req: &Request<'_, '_>,
    e: &Rc<FileEntry>,
    res: &mut Response<'_>,
    files: &mut FileCache,
) -> u16 {
    let cond = Conditions::of(req);
    // A Range (on GET) that applies selects the identity coding; otherwise negotiate.
    let range = match (req.method, cond.range) {
        (Method::Get, Some(r))
            if cond
                .if_range
                .is_none_or(|ir| if_range_holds(ir, &e.etag, &e.last_modified)) =>
        {
            parse_range(r, e.size)
        }
        _ => Range::Full,
    };
    let mut coding = if e.can_compress && range == Range::Full {
        choose_coding(cond.accept_encoding, true, true)
    } else {
        Coding::Identity
    };
    // HEAD never pays for a compression: a variant already built, or the identity body.
    if coding != Coding::Identity && res.head_only && !e.variant_ready(coding) {
        coding = Coding::Identity;
    }
    // Preconditions first (RFC 9110 §13.2.2): a 304 or 412 never pays for compression.
    if let Some(status) = preconditions(res, &cond, e, coding) {
        return status;
    }
    // Compress only for an entry that stays cached and within the turn's budget; a variant
    // that is not smaller than the file is not used. Either way the identity body is as right.
    let usable = coding == Coding::Identity
        || e.variant_ready(coding)
        || !e.variant_tried(coding) && files.may_compress(e) && e.variant(coding).is_some();
    if !usable {
        coding = Coding::Identity;
        if let Some(status) = preconditions(res, &cond, e, coding) {
            return status;
        }
    }
    let etag = e.etag_of(coding);
    let (status, off, len) = match range {
        Range::Full => (200, 0, e.body(coding).1 as u64),
        Range::Part(a, b) => (206, a, b - a + 1),
        Range::Unsatisfiable => {
            res.start(416);
            res.header(&[TEXT_PLAIN_UTF8]);
            res.header(&[b"Content-Range: bytes */"]);
            res.number(e.size);
            res.header(&[b"\r\n"]);
            let body: &[u8] = b"416 Range Not Satisfiable\n";
            res.finish(body.len() as u64);
            res.body(&[body]);
            return 416;
        }
    };
    let head_start = res.out.data.len();
    res.start(status);
    res.header(&[&e.head, b"ETag: ", etag, b"\r\n"]);
    match coding {
        Coding::Gzip => res.header(&[b"Content-Encoding: gzip\r\n"]),
        Coding::Deflate => res.header(&[b"Content-Encoding: deflate\r\n"]),
        Coding::Identity => {}
    }
    if status == 206 {
        res.header(&[b"Content-Range: bytes "]);
        res.number(off);
        res.header(&[b"-"]);
        res.number(off + len - 1);
        res.header(&[b"/"]);
        res.number(e.size);
        res.header(&[b"\r\n"]);
    }
    res.finish(len);
    if !res.head_only
        && res
            .out
            .push_body(e, coding, off as usize, len as usize)
            .is_err()
    {
        // Cannot happen while the range arithmetic above is right; never send a head whose
        // body does not follow.
        res.out.rewind(head_start);
        return res.status(500, &[], b"");
    }
    status
}
