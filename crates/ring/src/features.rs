//! The io_uring capabilities the backend can use, as a mask: what the caller allows
//! (`--uring-features`) and what the kernel turned out to offer.

/// Capabilities the backend may use. As a request (in [`UringConfig`]) `false` masks a feature
/// even when the kernel has it; as a result ([`UringDriver::features`]) it says what is in use.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct UringFeatures {
    pub accept_multi: bool,
    pub recv_multi: bool,
    pub buf_ring: bool,
    pub defer_taskrun: bool,
    pub coop_taskrun: bool,
}

impl UringFeatures {
    pub const ALL: UringFeatures = UringFeatures {
        accept_multi: true,
        recv_multi: true,
        buf_ring: true,
        defer_taskrun: true,
        coop_taskrun: true,
    };
    /// What Linux 5.15 (and Debian's 5.10.2xx, which carries the same io_uring) offers.
    pub const LINUX_5_15: UringFeatures = UringFeatures {
        accept_multi: false,
        recv_multi: false,
        buf_ring: false,
        defer_taskrun: false,
        coop_taskrun: false,
    };

    /// Parse a mask: `all`, `5.15`, or a comma list of features prefixed with `-` to turn off
    /// (`-accept_multi,-recv_multi`), starting from `all`.
    pub fn parse(s: &str) -> Result<UringFeatures, String> {
        let s = s.trim();
        match s {
            "" | "all" => return Ok(UringFeatures::ALL),
            "5.15" | "5.10" => return Ok(UringFeatures::LINUX_5_15),
            _ => {}
        }
        let mut f = UringFeatures::ALL;
        for item in s.split(',') {
            let name = item.trim().strip_prefix('-').ok_or_else(|| {
                format!("feature mask item `{item}` must start with `-` (or use `all`, `5.15`)")
            })?;
            match name {
                "accept_multi" => f.accept_multi = false,
                "recv_multi" => f.recv_multi = false,
                "buf_ring" => f.buf_ring = false,
                "defer_taskrun" => f.defer_taskrun = false,
                "coop_taskrun" => f.coop_taskrun = false,
                _ => return Err(format!("unknown io_uring feature `{name}`")),
            }
        }
        Ok(f)
    }
}
