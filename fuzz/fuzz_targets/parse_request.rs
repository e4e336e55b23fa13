//! Any bytes: parse never panics; a complete parse is consistent with its input, and parsing
//! the same bytes split in two gives the same answer (incremental correctness).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringhttpd_http::{parse, Header, Limits, Status};

fn summary(data: &[u8]) -> Result<Option<(usize, usize, Vec<u8>)>, u16> {
    let mut hs = [Header::default(); 32];
    let limits = Limits { max_request_line: 256, max_head: 1024, max_body: 1 << 20 };
    match parse(data, &mut hs, &limits) {
        Ok(Status::Complete(r)) => {
            assert!(r.head_len <= data.len());
            assert!(data[..r.head_len].ends_with(b"\n"));
            assert!(!r.target.is_empty() && !r.method_raw.is_empty());
            for h in r.headers {
                assert!(!h.name.is_empty());
                assert!(!h.name.contains(&b':'));
                assert!(!h.value.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0));
            }
            Ok(Some((r.head_len, r.headers.len(), r.target.to_vec())))
        }
        Ok(Status::Partial) => Ok(None),
        Err(e) => Err(e.status()),
    }
}

fuzz_target!(|data: &[u8]| {
    let whole = summary(data);
    if let Ok(Some((len, ..))) = &whole {
        // Every strict prefix of a complete head is Partial or (for over-long input) an error
        // of the same kind a bigger buffer would give; never a different complete request.
        for cut in [len / 2, len.saturating_sub(1)] {
            if let Ok(Some(_)) = summary(&data[..cut]) {
                panic!("prefix {cut} of a {len}-byte head parsed as complete");
            }
        }
    }
    if let Ok(None) = whole {
        // A partial input stays partial or becomes an error when cut shorter: never complete.
        let cut = data.len() / 2;
        assert!(!matches!(summary(&data[..cut]), Ok(Some(_))));
    }
});
