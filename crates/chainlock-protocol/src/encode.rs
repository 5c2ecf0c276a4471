//! Bitcoin's consensus encoding: little-endian integers and CompactSize varints.
//!
//! [`Reader`] is a bounds-checked cursor: every read checks the bytes that remain, and a
//! length prefix is checked against them *before* anything is allocated, so hostile input
//! cannot make a decoder allocate more than the input's own size.

use crate::{Error, Result};

/// A bounds-checked cursor over untrusted bytes.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// A reader over `data`; `what` names the structure in errors.
    pub fn new(data: &'a [u8], what: &'static str) -> Self {
        Reader { data, pos: 0, what }
    }

    /// Offset of the next byte to be read.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// An error at the current offset.
    pub fn error(&self, reason: impl Into<String>) -> Error {
        Error::decode(self.what, self.pos, reason)
    }

    /// Reads `n` bytes, or fails without consuming anything.
    pub fn bytes(&mut self, n: usize, field: &str) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(self.error(format!(
                "{field} needs {n} bytes but only {} remain (truncated input)",
                self.remaining()
            )));
        }
        let out = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// Reads a fixed-size array.
    pub fn array<const N: usize>(&mut self, field: &str) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N, field)?);
        Ok(out)
    }

    /// Reads one byte.
    pub fn u8(&mut self, field: &str) -> Result<u8> {
        Ok(self.array::<1>(field)?[0])
    }

    /// Reads a little-endian u32.
    pub fn u32(&mut self, field: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    /// Reads a little-endian u64.
    pub fn u64(&mut self, field: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(field)?))
    }

    /// Reads a CompactSize varint, refusing non-minimal encodings.
    pub fn varint(&mut self, field: &str) -> Result<u64> {
        let start = self.pos;
        let first = self.u8(field)?;
        let (value, min) = match first {
            0xfd => (u64::from(u16::from_le_bytes(self.array(field)?)), 0xfd),
            0xfe => (u64::from(u32::from_le_bytes(self.array(field)?)), 0x1_0000),
            0xff => (u64::from_le_bytes(self.array(field)?), 0x1_0000_0000),
            n => return Ok(u64::from(n)),
        };
        if value < min {
            self.pos = start;
            return Err(self.error(format!("{field} is a non-minimal varint")));
        }
        Ok(value)
    }

    /// Reads a count of items each at least `min_item_size` bytes long, refusing counts the
    /// remaining input cannot hold (so a hostile count never drives an allocation).
    pub fn count(&mut self, field: &str, min_item_size: usize) -> Result<usize> {
        let start = self.pos;
        let n = self.varint(field)?;
        let fits = usize::try_from(n)
            .ok()
            .and_then(|n| n.checked_mul(min_item_size.max(1)))
            .is_some_and(|bytes| bytes <= self.remaining());
        if !fits {
            self.pos = start;
            return Err(self.error(format!(
                "{field} of {n} cannot fit in the {} bytes that remain",
                self.remaining()
            )));
        }
        // `fits` proved n fits in usize.
        Ok(n as usize)
    }

    /// Reads a varint length followed by that many bytes.
    pub fn var_bytes(&mut self, field: &str) -> Result<&'a [u8]> {
        let n = self.count(field, 1)?;
        self.bytes(n, field)
    }

    /// Fails unless every byte was consumed.
    pub fn finish(&self) -> Result<()> {
        if self.remaining() != 0 {
            return Err(self.error(format!("{} trailing bytes after the end", self.remaining())));
        }
        Ok(())
    }
}

/// Appends a CompactSize varint.
pub fn write_varint(out: &mut Vec<u8>, n: u64) {
    match n {
        0..=0xfc => out.push(n as u8),
        0xfd..=0xffff => {
            out.push(0xfd);
            out.extend_from_slice(&(n as u16).to_le_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(0xfe);
            out.extend_from_slice(&(n as u32).to_le_bytes());
        }
        _ => {
            out.push(0xff);
            out.extend_from_slice(&n.to_le_bytes());
        }
    }
}

/// Appends a varint length and the bytes.
pub fn write_var_bytes(out: &mut Vec<u8>, data: &[u8]) {
    write_varint(out, data.len() as u64);
    out.extend_from_slice(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_round_trips_at_every_boundary() {
        for n in [
            0u64,
            0xfc,
            0xfd,
            0xffff,
            0x1_0000,
            0xffff_ffff,
            0x1_0000_0000,
            u64::MAX,
        ] {
            let mut buf = Vec::new();
            write_varint(&mut buf, n);
            let mut r = Reader::new(&buf, "varint");
            assert_eq!(r.varint("n").unwrap(), n);
            r.finish().unwrap();
        }
    }

    #[test]
    fn non_minimal_varint_is_refused() {
        let err = Reader::new(&[0xfd, 0x10, 0x00], "varint")
            .varint("n")
            .unwrap_err();
        assert!(err.to_string().contains("non-minimal"), "{err}");
    }

    #[test]
    fn hostile_count_is_refused_before_allocation() {
        let err = Reader::new(
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
            "tx",
        )
        .count("input count", 41)
        .unwrap_err();
        assert!(err.to_string().contains("cannot fit"), "{err}");
    }
}
