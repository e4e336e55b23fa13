//! Content types by file extension, and which types are worth compressing.

/// (extension, content type, compressible). Text types carry a charset.
const TYPES: &[(&str, &str, bool)] = &[
    ("html", "text/html; charset=utf-8", true),
    ("htm", "text/html; charset=utf-8", true),
    ("css", "text/css; charset=utf-8", true),
    ("js", "text/javascript; charset=utf-8", true),
    ("mjs", "text/javascript; charset=utf-8", true),
    ("json", "application/json", true),
    ("map", "application/json", true),
    ("webmanifest", "application/manifest+json", true),
    ("xml", "application/xml", true),
    ("rss", "application/rss+xml", true),
    ("atom", "application/atom+xml", true),
    ("txt", "text/plain; charset=utf-8", true),
    ("md", "text/markdown; charset=utf-8", true),
    ("csv", "text/csv; charset=utf-8", true),
    ("tsv", "text/tab-separated-values; charset=utf-8", true),
    ("ics", "text/calendar; charset=utf-8", true),
    ("vtt", "text/vtt; charset=utf-8", true),
    ("svg", "image/svg+xml", true),
    ("wasm", "application/wasm", true),
    ("ttf", "font/ttf", true),
    ("otf", "font/otf", true),
    ("woff", "font/woff", false),
    ("woff2", "font/woff2", false),
    ("eot", "application/vnd.ms-fontobject", true),
    ("ico", "image/vnd.microsoft.icon", true),
    ("bmp", "image/bmp", true),
    ("png", "image/png", false),
    ("jpg", "image/jpeg", false),
    ("jpeg", "image/jpeg", false),
    ("gif", "image/gif", false),
    ("webp", "image/webp", false),
    ("avif", "image/avif", false),
    ("tif", "image/tiff", false),
    ("tiff", "image/tiff", false),
    ("mp3", "audio/mpeg", false),
    ("ogg", "audio/ogg", false),
    ("oga", "audio/ogg", false),
    ("wav", "audio/wav", false),
    ("flac", "audio/flac", false),
    ("m4a", "audio/mp4", false),
    ("mp4", "video/mp4", false),
    ("m4v", "video/mp4", false),
    ("webm", "video/webm", false),
    ("ogv", "video/ogg", false),
    ("mov", "video/quicktime", false),
    ("pdf", "application/pdf", false),
    ("zip", "application/zip", false),
    ("gz", "application/gzip", false),
    ("tgz", "application/gzip", false),
    ("bz2", "application/x-bzip2", false),
    ("xz", "application/x-xz", false),
    ("zst", "application/zstd", false),
    ("7z", "application/x-7z-compressed", false),
    ("tar", "application/x-tar", true),
    ("epub", "application/epub+zip", false),
    ("jar", "application/java-archive", false),
    ("doc", "application/msword", true),
    (
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        false,
    ),
    ("xls", "application/vnd.ms-excel", true),
    (
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        false,
    ),
    ("ppt", "application/vnd.ms-powerpoint", true),
    (
        "pptx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        false,
    ),
    ("rtf", "application/rtf", true),
    ("sh", "application/x-sh", true),
    ("yaml", "application/yaml", true),
    ("yml", "application/yaml", true),
    ("toml", "application/toml", true),
];

/// Content type and compressibility for a file name.
pub fn lookup(name: &[u8]) -> (&'static str, bool) {
    let base = name.rsplit(|&b| b == b'/').next().unwrap_or(name);
    if let Some(dot) = base.iter().rposition(|&b| b == b'.') {
        let ext = &base[dot + 1..];
        for &(e, t, c) in TYPES {
            if ext.eq_ignore_ascii_case(e.as_bytes()) {
                return (t, c);
            }
        }
    }
    ("application/octet-stream", false)
}

#[cfg(test)]
mod tests {
    #[test]
    fn types() {
        assert_eq!(
            super::lookup(b"a/index.HTML"),
            ("text/html; charset=utf-8", true)
        );
        assert_eq!(super::lookup(b"x.png"), ("image/png", false));
        assert_eq!(
            super::lookup(b"dir.d/README"),
            ("application/octet-stream", false)
        );
        assert_eq!(
            super::lookup(b"app.min.js").0,
            "text/javascript; charset=utf-8"
        );
    }
}
