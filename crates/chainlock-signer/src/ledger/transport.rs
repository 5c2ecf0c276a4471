//! Transports: how APDU bytes reach a Ledger and its reply comes back.
//!
//! One trait, three implementations: USB HID for real devices ([`HidTransport`]), TCP for the
//! Speculos emulator ([`TcpTransport`]), and a replay of recorded exchanges ([`Replay`]) that
//! fails loudly on the first APDU that differs from the recording. The protocol code above
//! ([`super::btchip`]) sees only [`Transport`], so every flow is tested byte for byte against
//! recordings without a device.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::{Error, Result};

/// Largest APDU payload (Lc is one byte).
pub const MAX_APDU_DATA: usize = 255;
/// Largest reply data a transport accepts (the device's I/O buffer is smaller).
pub const MAX_REPLY_DATA: usize = 1024;

/// A reply from the device: the data and the status word that ended it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Response data, without the status word.
    pub data: Vec<u8>,
    /// The status word (0x9000 on success).
    pub sw: u16,
}

impl Reply {
    /// Splits raw response bytes (data followed by a 2-byte status word).
    pub fn from_raw(raw: &[u8]) -> Result<Self> {
        match raw.len().checked_sub(2) {
            Some(n) => Ok(Reply {
                data: raw[..n].to_vec(),
                sw: u16::from_be_bytes([raw[n], raw[n + 1]]),
            }),
            None => Err(Error::Transport {
                reason: format!("reply of {} bytes has no status word", raw.len()),
            }),
        }
    }
}

/// Sends one APDU and returns the device's reply.
pub trait Transport: Send {
    /// Exchanges one APDU (`CLA INS P1 P2 Lc data`) for the device's reply. Errors are
    /// transport failures only; a status word other than 0x9000 is a normal [`Reply`].
    fn exchange(&mut self, apdu: &[u8]) -> Result<Reply>;
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn exchange(&mut self, apdu: &[u8]) -> Result<Reply> {
        (**self).exchange(apdu)
    }
}

/// Splits an APDU into its header and data, checking that Lc matches.
fn split_apdu(apdu: &[u8]) -> Result<([u8; 4], &[u8])> {
    let bad = |why: &str| Error::Transport {
        reason: format!("malformed APDU {}: {why}", hex::encode(apdu)),
    };
    let (header, rest) = match apdu {
        [cla, ins, p1, p2, rest @ ..] => ([*cla, *ins, *p1, *p2], rest),
        _ => return Err(bad("shorter than its 4-byte header")),
    };
    match rest {
        [] => Ok((header, rest)),
        [lc, data @ ..] if usize::from(*lc) == data.len() => Ok((header, data)),
        _ => Err(bad("Lc does not match the data length")),
    }
}

/// A Ledger on USB, through `ledger-transport-hid` (hidapi's hidraw backend on Linux).
pub struct HidTransport {
    device: ledger_transport_hid::TransportNativeHID,
}

impl HidTransport {
    /// Opens the one Ledger connected; fails with `NoDevice` when there is none and with
    /// `MultipleDevices` when there is more than one, so a signature never goes to a device
    /// the user did not mean.
    pub fn open() -> Result<Self> {
        use ledger_transport_hid::TransportNativeHID;
        let api = ledger_transport_hid::hidapi::HidApi::new().map_err(|e| Error::Transport {
            reason: format!("cannot initialise USB HID access: {e}"),
        })?;
        let mut paths: Vec<_> = TransportNativeHID::list_ledgers(&api)
            .map(|d| d.path().to_owned())
            .collect();
        paths.sort();
        paths.dedup();
        let info = match paths.len() {
            0 => return Err(Error::NoDevice),
            1 => TransportNativeHID::list_ledgers(&api)
                .next()
                .ok_or(Error::NoDevice)?,
            _ => return Err(Error::MultipleDevices),
        };
        let device = TransportNativeHID::open_device(&api, info).map_err(hid_error)?;
        Ok(HidTransport { device })
    }
}

impl Transport for HidTransport {
    fn exchange(&mut self, apdu: &[u8]) -> Result<Reply> {
        let ([cla, ins, p1, p2], data) = split_apdu(apdu)?;
        let command = ledger_transport::APDUCommand {
            cla,
            ins,
            p1,
            p2,
            data: data.to_vec(),
        };
        let answer = self.device.exchange(&command).map_err(hid_error)?;
        Ok(Reply {
            data: answer.data().to_vec(),
            sw: answer.retcode(),
        })
    }
}

fn hid_error(e: ledger_transport_hid::LedgerHIDError) -> Error {
    use ledger_transport_hid::LedgerHIDError as E;
    match e {
        E::DeviceNotFound => Error::NoDevice,
        // A read that returns nothing is hidapi's timeout; anything else from hidapi during an
        // exchange means the device went away (unplugged, or the app quit and re-enumerated).
        E::Comm(msg) if msg.contains("Incomplete header") => Error::Timeout {
            secs: HID_TIMEOUT_SECS,
        },
        E::Hid(_) | E::Io(_) => Error::Disconnected,
        other => Error::Transport {
            reason: other.to_string(),
        },
    }
}

/// ledger-transport-hid's read timeout (10,000,000 ms): long enough for any user.
const HID_TIMEOUT_SECS: u64 = 10_000;

/// How long the TCP transport waits for a reply by default: a user reading the device screen
/// and pressing its buttons.
pub const DEFAULT_TCP_TIMEOUT: Duration = Duration::from_secs(300);

/// The Speculos emulator's APDU port (`--apdu-port`, 9999 by default): each APDU goes as a
/// 4-byte big-endian length and the APDU; each reply comes back as a 4-byte big-endian length,
/// that many bytes of data, and the 2-byte status word.
pub struct TcpTransport {
    stream: TcpStream,
    timeout: Duration,
}

impl TcpTransport {
    /// Connects to `HOST:PORT`; a refused connection is `NoDevice` (no emulator listening).
    pub fn connect(addr: &str, timeout: Duration) -> Result<Self> {
        let addrs: Vec<_> = addr
            .to_socket_addrs()
            .map_err(|e| Error::Transport {
                reason: format!("cannot resolve Speculos address {addr:?}: {e}"),
            })?
            .collect();
        let mut last = None;
        for a in addrs {
            match TcpStream::connect_timeout(&a, Duration::from_secs(5)) {
                Ok(stream) => {
                    stream.set_read_timeout(Some(timeout)).map_err(io_error)?;
                    stream.set_write_timeout(Some(timeout)).map_err(io_error)?;
                    // Small request-reply messages: send each at once.
                    stream.set_nodelay(true).map_err(io_error)?;
                    return Ok(TcpTransport { stream, timeout });
                }
                Err(e) => last = Some(e),
            }
        }
        match last {
            Some(e) if matches!(e.kind(), ErrorKind::ConnectionRefused | ErrorKind::TimedOut) => {
                Err(Error::NoDevice)
            }
            Some(e) => Err(Error::Transport {
                reason: format!("cannot connect to Speculos at {addr}: {e}"),
            }),
            None => Err(Error::Transport {
                reason: format!("Speculos address {addr:?} resolves to nothing"),
            }),
        }
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<()> {
        let timeout = self.timeout;
        self.stream
            .read_exact(buf)
            .map_err(|e| tcp_error(e, timeout))
    }
}

/// A socket error during an exchange: the timeout set at connection is the one that expired.
fn tcp_error(e: std::io::Error, timeout: Duration) -> Error {
    match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => Error::Timeout {
            secs: timeout.as_secs(),
        },
        _ => io_error(e),
    }
}

impl Transport for TcpTransport {
    fn exchange(&mut self, apdu: &[u8]) -> Result<Reply> {
        split_apdu(apdu)?;
        let mut frame = Vec::with_capacity(4 + apdu.len());
        frame.extend_from_slice(&(apdu.len() as u32).to_be_bytes());
        frame.extend_from_slice(apdu);
        let timeout = self.timeout;
        self.stream
            .write_all(&frame)
            .map_err(|e| tcp_error(e, timeout))?;
        let mut len = [0u8; 4];
        self.read_exact(&mut len)?;
        let len = u32::from_be_bytes(len) as usize;
        if len > MAX_REPLY_DATA {
            return Err(Error::Transport {
                reason: format!("Speculos announced a reply of {len} bytes, over {MAX_REPLY_DATA}"),
            });
        }
        let mut data = vec![0u8; len];
        self.read_exact(&mut data)?;
        let mut sw = [0u8; 2];
        self.read_exact(&mut sw)?;
        Ok(Reply {
            data,
            sw: u16::from_be_bytes(sw),
        })
    }
}

fn io_error(e: std::io::Error) -> Error {
    match e.kind() {
        ErrorKind::UnexpectedEof
        | ErrorKind::ConnectionReset
        | ErrorKind::ConnectionAborted
        | ErrorKind::BrokenPipe
        | ErrorKind::NotConnected => Error::Disconnected,
        _ => Error::Transport {
            reason: e.to_string(),
        },
    }
}

/// One recorded exchange: the APDU sent and the raw reply (data and status word).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// The APDU the host sent.
    pub send: Vec<u8>,
    /// The device's raw reply, status word last.
    pub recv: Vec<u8>,
}

/// Replays recorded exchanges: each APDU must equal the next one recorded, byte for byte,
/// or the exchange fails naming the step and both APDUs. Running past the recording fails too,
/// and [`Replay::finish`] fails if exchanges were left unplayed.
#[derive(Debug, Clone)]
pub struct Replay {
    exchanges: Vec<Exchange>,
    next: usize,
}

impl Replay {
    /// A replay of `exchanges`, in order.
    pub fn new(exchanges: Vec<Exchange>) -> Self {
        Replay { exchanges, next: 0 }
    }

    /// A replay from hex pairs `(send, recv)`.
    pub fn from_hex<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self> {
        let mut exchanges = Vec::new();
        for (i, (send, recv)) in pairs.into_iter().enumerate() {
            let decode = |what: &str, text: &str| {
                hex::decode(text).map_err(|e| Error::Transport {
                    reason: format!("recorded exchange {i} {what} is not hex: {e}"),
                })
            };
            exchanges.push(Exchange {
                send: decode("send", send)?,
                recv: decode("recv", recv)?,
            });
        }
        Ok(Replay::new(exchanges))
    }

    /// How many exchanges were played.
    pub fn played(&self) -> usize {
        self.next
    }

    /// Fails unless every recorded exchange was played.
    pub fn finish(&self) -> Result<()> {
        if self.next != self.exchanges.len() {
            return Err(Error::Transport {
                reason: format!(
                    "replay ended after {} of {} recorded exchanges; the next expected APDU was {}",
                    self.next,
                    self.exchanges.len(),
                    hex::encode(&self.exchanges[self.next].send)
                ),
            });
        }
        Ok(())
    }
}

impl Transport for Replay {
    fn exchange(&mut self, apdu: &[u8]) -> Result<Reply> {
        let step = self.next;
        let Some(expected) = self.exchanges.get(step) else {
            return Err(Error::Transport {
                reason: format!(
                    "replay: APDU {} sent after the {} recorded exchanges: {}",
                    step + 1,
                    self.exchanges.len(),
                    hex::encode(apdu)
                ),
            });
        };
        if expected.send != apdu {
            let at = expected
                .send
                .iter()
                .zip(apdu)
                .position(|(a, b)| a != b)
                .unwrap_or(expected.send.len().min(apdu.len()));
            return Err(Error::Transport {
                reason: format!(
                    "replay: APDU {} differs from the recording at byte {at}:\n  recorded {}\n  sent     {}",
                    step + 1,
                    hex::encode(&expected.send),
                    hex::encode(apdu)
                ),
            });
        }
        self.next += 1;
        Reply::from_raw(&expected.recv)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic
mod tests {
    use super::*;

    #[test]
    fn replay_fails_loudly_on_a_different_apdu() {
        let mut r = Replay::from_hex([("b001000000", "9000")]).unwrap();
        let err = r.exchange(&[0xb0, 0x01, 0x00, 0x01, 0x00]).unwrap_err();
        assert!(
            err.to_string()
                .contains("differs from the recording at byte 3"),
            "{err}"
        );
        assert!(r.finish().is_err());
        assert_eq!(
            r.exchange(&[0xb0, 0x01, 0x00, 0x00, 0x00]).unwrap(),
            Reply {
                data: vec![],
                sw: 0x9000
            }
        );
        r.finish().unwrap();
        let err = r.exchange(&[0xb0, 0x01, 0x00, 0x00, 0x00]).unwrap_err();
        assert!(
            err.to_string().contains("after the 1 recorded exchanges"),
            "{err}"
        );
    }

    #[test]
    fn malformed_apdus_are_refused_before_sending() {
        assert!(split_apdu(&[0xe0, 0x40]).is_err());
        assert!(split_apdu(&[0xe0, 0x40, 0, 0, 2, 1]).is_err());
        assert_eq!(
            split_apdu(&[0xe0, 0x40, 0, 0, 1, 7]).unwrap(),
            ([0xe0, 0x40, 0, 0], &[7u8][..])
        );
    }

    #[test]
    fn reply_without_status_word_is_an_error() {
        assert!(Reply::from_raw(&[0x90]).is_err());
        assert_eq!(
            Reply::from_raw(&[1, 0x69, 0x85]).unwrap(),
            Reply {
                data: vec![1],
                sw: 0x6985
            }
        );
    }
}
