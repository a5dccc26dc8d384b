//! The local certificate authority behind `--cert local` and `werk trust`:
//! one root certificate and key per user, limited by X.509 name
//! constraints (RFC 5280 section 4.2.1.10) to local names, and the
//! short-lived server certificates it signs.
//!
//! A name constraint in a root is checked by every client that trusts the
//! root: a certificate it signed for a name outside its permitted subtrees
//! is refused, whatever the name's owner. So trusting this root lets a
//! stolen root key impersonate `localhost` at worst, never a bank.
//!
//! The files, in the data directory ([`data_dir`], mode 0700):
//!
//! ```text
//! root.crt         the root certificate (PEM), what the trust stores hold
//! root.key         its key (PEM, mode 0600)
//! root.conf        what werk needs without parsing the certificate: its
//!                  id, subject and permitted names
//! leaf-HOST.pem    a server certificate for HOST and its key (mode 0600),
//!                  after comment lines with the root's id, the names and
//!                  the expiry; one file, replaced whole, so a process never
//!                  reads a certificate with another one's key
//! ```

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::net::IpAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::Error;

/// The names every root permits: `localhost` and the names under it, and
/// the loopback addresses.
pub(crate) const DEFAULT_PERMITS: [&str; 4] = ["localhost", ".localhost", "127.0.0.0/8", "::1/128"];

/// How long a root is valid.
const ROOT_DAYS: u64 = 3650;

/// How long a server certificate is valid, and how close to its end it is
/// replaced.
const LEAF_DAYS: u64 = 30;
const RENEW_DAYS: u64 = 7;

const DAY: u64 = 24 * 3600;

/// Set once the notes about a local certificate were printed, so that the
/// reloader's children, which inherit it, do not print them again.
const SAID_ENV: &str = "WERK_LOCAL_TLS_SAID";

/// One permitted subtree of the root's name constraints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Permit {
    /// A DNS name and every name under it (`example.test`), or only the
    /// names under it (`.example.test`).
    Dns(String),
    /// An address block: the network address and the prefix length.
    Ip(IpAddr, u8),
}

impl Permit {
    /// Reads `localhost`, `.localhost`, `127.0.0.0/8`, `::1/128`, or a
    /// single address (`192.168.1.20`, a /32 or /128).
    pub(crate) fn parse(text: &str) -> Result<Permit, String> {
        let text = text.trim();
        let bare = text.trim_start_matches('[').trim_end_matches(']');
        if let Some((addr, bits)) = text.split_once('/') {
            let addr: IpAddr = addr
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse()
                .map_err(|_| format!("{text:?} is not an address block such as 10.0.0.0/8"))?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let bits: u8 = bits
                .parse()
                .ok()
                .filter(|&b| b <= max)
                .ok_or_else(|| format!("the prefix length in {text:?} must be 0 to {max}"))?;
            return Ok(Permit::Ip(masked(addr, bits), bits));
        }
        if let Ok(addr) = bare.parse::<IpAddr>() {
            return Ok(Permit::Ip(addr, if addr.is_ipv4() { 32 } else { 128 }));
        }
        let name = text.to_ascii_lowercase();
        let labels = name.strip_prefix('.').unwrap_or(&name);
        if labels.contains('*') {
            return Err(format!(
                "{text:?}: a name stands for itself and every name under it, so write {} without *.",
                labels.trim_start_matches("*.")
            ));
        }
        let valid_label = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if labels.len() > 253 || !labels.split('.').all(valid_label) {
            return Err(format!(
                "{text:?} is neither a DNS name (example.test, .example.test) nor an address \
                 (192.168.1.20, 10.0.0.0/8)"
            ));
        }
        Ok(Permit::Dns(name))
    }

    /// True if a certificate name (a DNS name, perhaps `*.` something, or
    /// an address) falls within this subtree, as RFC 5280 section
    /// 4.2.1.10 reads it: `example.test` covers itself and any name made
    /// by adding labels on the left; `.example.test` only the latter. A
    /// wildcard label counts as one more label.
    pub(crate) fn covers(&self, name: &str) -> bool {
        let bare = name.trim_start_matches('[').trim_end_matches(']');
        match (self, bare.parse::<IpAddr>()) {
            (Permit::Ip(net, bits), Ok(ip)) => {
                ip.is_ipv4() == net.is_ipv4() && masked(ip, *bits) == *net
            }
            (Permit::Dns(constraint), Err(_)) => {
                let name = name.to_ascii_lowercase();
                if constraint.starts_with('.') {
                    name.len() > constraint.len() && name.ends_with(constraint.as_str())
                } else {
                    name == *constraint || name.ends_with(&format!(".{constraint}"))
                }
            }
            _ => false,
        }
    }

    /// True if everything this subtree permits, `permits` permit already:
    /// `werk trust --name` then needs no new root.
    #[cfg(feature = "cli")]
    pub(crate) fn is_within(&self, permits: &[Permit]) -> bool {
        match self {
            // A subtree that holds a name holds the names under it.
            Permit::Dns(name) if !name.starts_with('.') => permits.iter().any(|p| p.covers(name)),
            // `*` is no label a constraint can name: only a subtree that
            // holds all of the names under `name` holds it.
            Permit::Dns(under) => permits.iter().any(|p| p.covers(&format!("*{under}"))),
            Permit::Ip(net, bits) => permits.iter().any(|p| match p {
                Permit::Ip(other, other_bits) => {
                    other_bits <= bits
                        && other.is_ipv4() == net.is_ipv4()
                        && masked(*net, *other_bits) == *other
                }
                Permit::Dns(_) => false,
            }),
        }
    }

    fn subtree(&self) -> rcgen::GeneralSubtree {
        match self {
            Permit::Dns(name) => rcgen::GeneralSubtree::DnsName(name.clone()),
            Permit::Ip(addr, bits) => {
                rcgen::GeneralSubtree::IpAddress(rcgen::CidrSubnet::from_addr_prefix(*addr, *bits))
            }
        }
    }
}

impl fmt::Display for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Permit::Dns(name) => f.write_str(name),
            Permit::Ip(addr, bits) => write!(f, "{addr}/{bits}"),
        }
    }
}

/// `addr` with the bits after the first `bits` cleared.
fn masked(addr: IpAddr, bits: u8) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            IpAddr::from((u32::from(v4) & mask).to_be_bytes())
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            IpAddr::from((u128::from(v6) & mask).to_be_bytes())
        }
    }
}

/// The default names plus `extra` (each as `werk trust --name` takes it),
/// without repeats.
pub(crate) fn permits_with(extra: &[String]) -> Result<Vec<Permit>, String> {
    let mut permits: Vec<Permit> = Vec::new();
    for text in DEFAULT_PERMITS
        .iter()
        .copied()
        .chain(extra.iter().map(String::as_str))
    {
        let permit = Permit::parse(text)?;
        if !permits.contains(&permit) {
            permits.push(permit);
        }
    }
    Ok(permits)
}

/// The name constraints extension for a root that permits `permits`.
pub(crate) fn name_constraints(permits: &[Permit]) -> rcgen::NameConstraints {
    rcgen::NameConstraints {
        permitted_subtrees: permits.iter().map(Permit::subtree).collect(),
        excluded_subtrees: Vec::new(),
    }
}

/// Where the authority lives: `$XDG_DATA_HOME/werk` (an absolute
/// `XDG_DATA_HOME` only, as the XDG spec says), else
/// `~/.local/share/werk`; on macOS `~/Library/Application Support/werk`.
pub(crate) fn data_dir() -> Option<PathBuf> {
    data_dir_from(
        std::env::var_os("XDG_DATA_HOME"),
        std::env::var_os("HOME"),
        cfg!(target_os = "macos"),
    )
}

pub(crate) fn data_dir_from(
    xdg_data_home: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
    macos: bool,
) -> Option<PathBuf> {
    let home = home.filter(|h| !h.is_empty()).map(PathBuf::from);
    if macos {
        return Some(home?.join("Library/Application Support/werk"));
    }
    match xdg_data_home.map(PathBuf::from) {
        Some(xdg) if xdg.is_absolute() => Some(xdg.join("werk")),
        _ => Some(home?.join(".local/share/werk")),
    }
}

/// The seconds since 1970 now.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn to_time(unix: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(unix)
}

/// The authority: the root certificate, its key, and what it permits.
pub(crate) struct Root {
    /// The directory its files are in.
    pub dir: PathBuf,
    /// Twelve hex digits from its public key: names its files in the trust
    /// stores, and its NSS nickname.
    pub id: String,
    /// Its subject's common name, `werk local CA <id>`.
    pub common_name: String,
    /// Its subject's organizational unit: `user@host` that made it.
    pub unit: String,
    /// What its name constraints permit.
    pub permits: Vec<Permit>,
    /// The end of its validity, in seconds since 1970.
    pub not_after: u64,
    /// The certificate, PEM.
    pub cert_pem: String,
    key: rcgen::KeyPair,
}

impl fmt::Debug for Root {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Root")
            .field("dir", &self.dir)
            .field("id", &self.id)
            .field("permits", &self.permits)
            .finish_non_exhaustive()
    }
}

/// The parameters of a root: the same every time for the same values, so
/// that the issuer of a server certificate, rebuilt from `root.conf`,
/// matches the root's subject byte for byte.
fn root_params(
    common_name: &str,
    unit: &str,
    permits: &[Permit],
    not_before: u64,
    not_after: u64,
) -> rcgen::CertificateParams {
    let mut params = rcgen::CertificateParams::default();
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::OrganizationName, "werk local CA");
    dn.push(rcgen::DnType::OrganizationalUnitName, unit);
    dn.push(rcgen::DnType::CommonName, common_name);
    params.distinguished_name = dn;
    // It signs server certificates only, never another authority.
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    params.name_constraints = Some(name_constraints(permits));
    params.not_before = to_time(not_before).into();
    params.not_after = to_time(not_after).into();
    params
}

impl Root {
    pub(crate) fn cert_path(dir: &Path) -> PathBuf {
        dir.join("root.crt")
    }

    fn key_path(dir: &Path) -> PathBuf {
        dir.join("root.key")
    }

    fn conf_path(dir: &Path) -> PathBuf {
        dir.join("root.conf")
    }

    /// Makes a new root in `dir` permitting `permits`, valid from an hour
    /// ago (clocks differ) for ten years, with an ECDSA P-256 key, and
    /// writes its files.
    pub(crate) fn create(dir: &Path, permits: &[Permit], now: u64) -> Result<Root, String> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| format!("cannot generate a key: {e}"))?;
        // The uncompressed point 04 || X || Y: six bytes of X.
        let id: String = key.public_key_raw()[1..7]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "user".into());
        let host = crate::sys::hostname().unwrap_or_else(|| "localhost".into());
        let root = Root {
            dir: dir.to_owned(),
            common_name: format!("werk local CA {id}"),
            unit: format!("{user}@{host}"),
            id,
            permits: permits.to_vec(),
            not_after: now + ROOT_DAYS * DAY,
            cert_pem: String::new(),
            key,
        };
        let params = root_params(
            &root.common_name,
            &root.unit,
            &root.permits,
            now.saturating_sub(3600),
            root.not_after,
        );
        let cert = params
            .self_signed(&root.key)
            .map_err(|e| format!("cannot make the root certificate: {e}"))?;
        let root = Root {
            cert_pem: cert.pem(),
            ..root
        };
        let io = |what: &Path, e: io::Error| format!("cannot write {}: {e}", what.display());
        make_private_dir(dir).map_err(|e| io(dir, e))?;
        let key_path = Self::key_path(dir);
        write_replacing(&key_path, root.key.serialize_pem().as_bytes(), 0o600)
            .map_err(|e| io(&key_path, e))?;
        let cert_path = Self::cert_path(dir);
        write_replacing(&cert_path, root.cert_pem.as_bytes(), 0o644)
            .map_err(|e| io(&cert_path, e))?;
        // Last: a root without its conf file is not there.
        let conf_path = Self::conf_path(dir);
        write_replacing(&conf_path, root.conf().as_bytes(), 0o644)
            .map_err(|e| io(&conf_path, e))?;
        Ok(root)
    }

    fn conf(&self) -> String {
        let mut text = String::from(
            "# werk's local certificate authority (see werk trust --help); written by werk\n",
        );
        text.push_str(&format!("id = {}\n", self.id));
        text.push_str(&format!("common_name = {}\n", self.common_name));
        text.push_str(&format!("unit = {}\n", self.unit));
        text.push_str(&format!("not_after = {}\n", self.not_after));
        for permit in &self.permits {
            text.push_str(&format!("permit = {permit}\n"));
        }
        text
    }

    /// The root in `dir`, or `None` if there is none yet.
    pub(crate) fn load(dir: &Path) -> Result<Option<Root>, String> {
        let conf_path = Self::conf_path(dir);
        let conf = match fs::read_to_string(&conf_path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read {}: {e}", conf_path.display())),
        };
        let read = |path: PathBuf| {
            fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
        };
        let cert_pem = read(Self::cert_path(dir))?;
        let key = rcgen::KeyPair::from_pem(&read(Self::key_path(dir))?)
            .map_err(|e| format!("{} holds no usable key: {e}", Self::key_path(dir).display()))?;
        let values = conf_values(&conf);
        let one = |name: &str| {
            values
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| format!("{} has no {name} line", conf_path.display()))
        };
        let permits = values
            .iter()
            .filter(|(k, _)| k == "permit")
            .map(|(_, v)| Permit::parse(v))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{}: {e}", conf_path.display()))?;
        let root = Root {
            dir: dir.to_owned(),
            id: one("id")?,
            common_name: one("common_name")?,
            unit: one("unit")?,
            not_after: one("not_after")?
                .parse()
                .map_err(|_| format!("{}: not_after is not a number", conf_path.display()))?,
            permits,
            cert_pem,
            key,
        };
        Ok(Some(root))
    }

    /// True if the root's name constraints allow `name`.
    pub(crate) fn permits(&self, name: &str) -> bool {
        self.permits.iter().any(|p| p.covers(name))
    }

    /// A server certificate for `names` (DNS names and addresses), valid
    /// for 30 days from an hour ago, with a new P-256 key; as PEM, the
    /// certificate then the key. Names the root does not permit are signed
    /// all the same (clients then refuse the certificate): the caller
    /// leaves them out.
    pub(crate) fn issue(&self, names: &[String], now: u64) -> Result<Leaf, String> {
        let mut params = rcgen::CertificateParams::new(names.to_vec())
            .map_err(|e| format!("cannot make a certificate for {names:?}: {e}"))?;
        let common_name = names
            .iter()
            .find(|n| n.parse::<IpAddr>().is_err() && !n.starts_with('*'))
            .map_or("localhost", String::as_str);
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "werk local certificate");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        params.is_ca = rcgen::IsCa::ExplicitNoCa;
        params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let not_after = now + LEAF_DAYS * DAY;
        params.not_before = to_time(now.saturating_sub(3600)).into();
        params.not_after = to_time(not_after).into();
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| format!("cannot generate a key: {e}"))?;
        let issuer = rcgen::Issuer::new(
            root_params(&self.common_name, &self.unit, &self.permits, 0, 0),
            &self.key,
        );
        let cert = params
            .signed_by(&key, &issuer)
            .map_err(|e| format!("cannot sign a certificate for {names:?}: {e}"))?;
        Ok(Leaf {
            info: LeafInfo {
                root: self.id.clone(),
                not_after,
                names: names.to_vec(),
            },
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// A server certificate and its key, as the root issued them.
#[derive(Debug)]
pub(crate) struct Leaf {
    pub info: LeafInfo,
    pub cert_pem: String,
    pub key_pem: String,
}

impl Leaf {
    /// The file's text: the comment lines [`LeafInfo::parse`] reads, the
    /// certificate, the key.
    fn file_text(&self) -> String {
        let mut text = String::from("# werk local certificate (werk serve --cert local)\n");
        text.push_str(&format!("# root = {}\n", self.info.root));
        text.push_str(&format!("# not_after = {}\n", self.info.not_after));
        for name in &self.info.names {
            text.push_str(&format!("# name = {name}\n"));
        }
        text.push_str(&self.cert_pem);
        text.push_str(&self.key_pem);
        text
    }
}

/// What a stored server certificate is: who signed it, until when, for
/// which names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LeafInfo {
    pub root: String,
    pub not_after: u64,
    pub names: Vec<String>,
}

impl LeafInfo {
    /// Reads the comment lines at the top of a `leaf-HOST.pem` file.
    fn parse(text: &str) -> Option<LeafInfo> {
        let values = conf_values(
            &text
                .lines()
                .filter_map(|l| l.strip_prefix("# "))
                .collect::<Vec<_>>()
                .join("\n"),
        );
        let get = |name: &str| values.iter().find(|(k, _)| k == name).map(|(_, v)| v);
        Some(LeafInfo {
            root: get("root")?.clone(),
            not_after: get("not_after")?.parse().ok()?,
            names: values
                .iter()
                .filter(|(k, _)| k == "name")
                .map(|(_, v)| v.clone())
                .collect(),
        })
    }
}

/// True if the stored certificate can keep serving: signed by this root,
/// for exactly these names (in any order), with more than a week left.
/// Otherwise a new one is issued.
pub(crate) fn leaf_is_current(
    stored: Option<&LeafInfo>,
    root_id: &str,
    names: &[String],
    now: u64,
) -> bool {
    let Some(stored) = stored else {
        return false;
    };
    let mut have = stored.names.clone();
    let mut want = names.to_vec();
    have.sort();
    want.sort();
    stored.root == root_id && have == want && stored.not_after > now + RENEW_DAYS * DAY
}

/// `key = value` lines; `#` lines and blank lines are skipped.
fn conf_values(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// The part of a server certificate's file name that says which host it
/// is for: `localhost` for the default and for Unix sockets.
pub(crate) fn leaf_label(host: &str) -> String {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    if host.is_empty() || host.starts_with("unix:") {
        return "localhost".into();
    }
    host.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The file of the server certificate for `host` in `dir`.
pub(crate) fn leaf_path(dir: &Path, host: &str) -> PathBuf {
    dir.join(format!("leaf-{}.pem", leaf_label(host)))
}

/// The names a certificate for `host` should carry, split into those the
/// root permits and those it does not: the loopback names, the host and
/// the names under it (`*.app.localhost`, not `*.localhost`), and for a
/// wildcard host (`0.0.0.0`, `::`, empty) the machine's addresses
/// (`interfaces`), as the banner lists them.
pub(crate) fn leaf_names(
    root: &Root,
    host: &str,
    interfaces: &[IpAddr],
) -> (Vec<String>, Vec<String>) {
    // A wildcard needs two labels after it (`*.app.localhost`): NSS,
    // webpki and Chromium refuse `*.localhost` as they refuse `*.com`, and
    // under name constraints a refused name fails the whole certificate.
    let mut candidates: Vec<String> = super::certs::names_for(host)
        .into_iter()
        .filter(|n| n.strip_prefix("*.").is_none_or(|rest| rest.contains('.')))
        .collect();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let wildcard = bare.is_empty() || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_unspecified());
    if wildcard {
        for ip in interfaces {
            let ip = ip.to_string();
            if !candidates.contains(&ip) {
                candidates.push(ip);
            }
        }
    }
    candidates.into_iter().partition(|name| root.permits(name))
}

/// The machine's addresses a wildcard `host` serves on, as the banner
/// lists them.
fn interfaces_for(host: &str) -> Vec<IpAddr> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let mut ips = crate::net::interface_ips(false);
    if bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_ipv6()) {
        ips.extend(crate::net::interface_ips(true));
    }
    ips
}

/// The directory of this user's authority, or why there is none.
fn authority_dir() -> Result<PathBuf, Error> {
    data_dir().ok_or_else(|| {
        Error::Tls(
            "--cert local needs a data directory for its certificate authority: set HOME \
             (or XDG_DATA_HOME)"
                .into(),
        )
    })
}

/// The certificate and key `--cert local` serves for `host` at `now`, with
/// the authority in `dir`: the stored one while it is current, else a new
/// one signed by the root (made now, not trusted anywhere yet, if there is
/// none). Returns the file holding both and the certificate's end of
/// validity. With `notes`, says what the user should know: a new
/// authority, one not trusted here, names left out.
fn serving_file(dir: &Path, host: &str, now: u64, notes: bool) -> Result<(PathBuf, u64), Error> {
    let root = match Root::load(dir).map_err(Error::Tls)? {
        Some(root) => {
            if notes && !is_trusted_here(&root) {
                say!(
                    " * The local certificate authority in {} is not in this machine's trust \
                     store: browsers and curl refuse its certificate. Run `werk trust` once.",
                    dir.display()
                );
            }
            root
        }
        None => {
            let root = Root::create(dir, &permits_with(&[]).map_err(Error::Tls)?, now)
                .map_err(Error::Tls)?;
            if notes {
                say!(
                    " * Created a local certificate authority in {}. Browsers and curl do not \
                     trust it yet: run `werk trust` once.",
                    dir.display()
                );
            }
            root
        }
    };
    if root.not_after <= now {
        return Err(Error::Tls(format!(
            "the local certificate authority in {} has expired: run `werk trust --uninstall`, \
             remove the directory, then `werk trust`",
            dir.display()
        )));
    }
    let (names, left_out) = leaf_names(&root, host, &interfaces_for(host));
    let path = leaf_path(dir, host);
    let stored = fs::read_to_string(&path)
        .ok()
        .and_then(|text| LeafInfo::parse(&text));
    let not_after = match stored {
        Some(stored) if leaf_is_current(Some(&stored), &root.id, &names, now) => stored.not_after,
        _ => {
            let leaf = root.issue(&names, now).map_err(Error::Tls)?;
            write_replacing(&path, leaf.file_text().as_bytes(), 0o600)
                .map_err(|e| Error::Tls(format!("cannot write {}: {e}", path.display())))?;
            leaf.info.not_after
        }
    };
    if notes && !left_out.is_empty() {
        let permitted: Vec<String> = root.permits.iter().map(Permit::to_string).collect();
        let example = left_out[0].trim_start_matches("*.");
        say!(
            " * The certificate leaves out {}: the local certificate authority permits only {} \
             (`werk trust --name {example}` makes one that permits it too)",
            left_out.join(", "),
            permitted.join(", ")
        );
    }
    Ok((path, not_after))
}

/// False when a glance shows that the machine's clients do not trust
/// `root`: on a Linux system store, its file is not among the extra roots
/// (`werk trust` puts it there, or prints the commands that do). Where no
/// glance tells (macOS, or a build without `werk trust`), true.
fn is_trusted_here(root: &Root) -> bool {
    #[cfg(feature = "cli")]
    return super::trust::system_store_holds(root).unwrap_or(true);
    #[cfg(not(feature = "cli"))]
    {
        let _ = root;
        true
    }
}

/// The certificate `--cert local` serves, renewed while the server runs:
/// when a week of its 30 days is left, the next handshake takes a new one
/// from `serving_file` (signed then, or already by another process), as
/// a restart would. If that fails, the current one goes on and the log
/// says why; the next try is an hour later.
#[derive(Debug)]
pub(crate) struct Renewing {
    dir: PathBuf,
    host: String,
    provider: Arc<rustls::crypto::CryptoProvider>,
    current: Mutex<Current>,
}

#[derive(Debug)]
struct Current {
    key: Arc<rustls::sign::CertifiedKey>,
    renew_at: u64,
}

impl Renewing {
    /// The certificate for `host` now (made or renewed if needed). The
    /// notes about it are said by the first server in a process tree
    /// only: the reloader's children inherit [`SAID_ENV`].
    pub(crate) fn new(
        host: &str,
        provider: Arc<rustls::crypto::CryptoProvider>,
    ) -> Result<Renewing, Error> {
        let notes = std::env::var_os(SAID_ENV).is_none();
        let renewing = Renewing::in_dir(authority_dir()?, host, provider, unix_now(), notes)?;
        if notes {
            std::env::set_var(SAID_ENV, "1");
        }
        Ok(renewing)
    }

    fn in_dir(
        dir: PathBuf,
        host: &str,
        provider: Arc<rustls::crypto::CryptoProvider>,
        now: u64,
        notes: bool,
    ) -> Result<Renewing, Error> {
        let current = load_current(&dir, host, &provider, now, notes)?;
        Ok(Renewing {
            dir,
            host: host.to_owned(),
            provider,
            current: Mutex::new(current),
        })
    }

    /// The certificate to present at `now`.
    fn at(&self, now: u64) -> Arc<rustls::sign::CertifiedKey> {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if now >= current.renew_at {
            match load_current(&self.dir, &self.host, &self.provider, now, false) {
                Ok(next) => *current = next,
                Err(e) => {
                    say!(" * Cannot renew the local certificate: {e}");
                    current.renew_at = now + 3600;
                }
            }
        }
        current.key.clone()
    }
}

impl rustls::server::ResolvesServerCert for Renewing {
    fn resolve(
        &self,
        _hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.at(unix_now()))
    }
}

/// The current certificate for `host` in `dir`, ready for rustls, and
/// when to renew it.
fn load_current(
    dir: &Path,
    host: &str,
    provider: &rustls::crypto::CryptoProvider,
    now: u64,
    notes: bool,
) -> Result<Current, Error> {
    let (file, not_after) = serving_file(dir, host, now, notes)?;
    let (certs, key) = super::certs::load(&file, &file)?;
    let key = rustls::sign::CertifiedKey::from_der(certs, key, provider)
        .map_err(|e| Error::Tls(format!("the local certificate in {}: {e}", file.display())))?;
    Ok(Current {
        key: Arc::new(key),
        renew_at: not_after.saturating_sub(RENEW_DAYS * DAY),
    })
}

/// Creates `dir` (and its parents) with mode 0700 if it is missing.
pub(crate) fn make_private_dir(dir: &Path) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Writes `data` to `path` through a temporary file beside it, renamed
/// over `path`: a reader sees the old file or the new one, never a part.
fn write_replacing(path: &Path, data: &[u8], mode: u32) -> io::Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(format!(".tmp-{}", std::process::id()));
    let tmp = path.with_file_name(name);
    let _ = fs::remove_file(&tmp);
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        file.write_all(data)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("werk-local-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn permits_parse_and_print() {
        let cases = [
            ("localhost", "localhost"),
            (".Localhost", ".localhost"),
            ("127.0.0.0/8", "127.0.0.0/8"),
            ("127.1.2.3/8", "127.0.0.0/8"),
            ("::1/128", "::1/128"),
            ("[::1]", "::1/128"),
            ("192.168.1.20", "192.168.1.20/32"),
            ("fd00::/8", "fd00::/8"),
            ("myapp.test", "myapp.test"),
        ];
        for (text, shown) in cases {
            assert_eq!(Permit::parse(text).unwrap().to_string(), shown, "{text}");
        }
        for bad in [
            "*.example.test",
            "",
            "exa mple.test",
            "example.test.",
            "-x.test",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/x",
        ] {
            assert!(Permit::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Permit::parse("*.example.test")
            .unwrap_err()
            .contains("write example.test"));
    }

    #[test]
    fn default_constraints_cover_local_names_only() {
        let permits = permits_with(&[]).unwrap();
        assert_eq!(permits.len(), 4);
        let covered = |name: &str| permits.iter().any(|p| p.covers(name));
        for inside in [
            "localhost",
            "LOCALHOST",
            "api.localhost",
            "*.localhost",
            "a.b.localhost",
            "127.0.0.1",
            "127.255.0.9",
            "::1",
            "[::1]",
        ] {
            assert!(covered(inside), "{inside} should be permitted");
        }
        for outside in [
            "example.com",
            "notlocalhost",
            "localhost.example.com",
            "*.com",
            "10.0.0.1",
            "128.0.0.1",
            "::2",
            "::ffff:127.0.0.1",
            "fe80::1",
        ] {
            assert!(!covered(outside), "{outside} should not be permitted");
        }
        let with_lan =
            permits_with(&strings(&["192.168.1.0/24", "myapp.test", "localhost"])).unwrap();
        assert_eq!(with_lan.len(), 6, "localhost is not repeated");
        assert!(with_lan.iter().any(|p| p.covers("192.168.1.77")));
        assert!(with_lan.iter().any(|p| p.covers("www.myapp.test")));
        assert!(!with_lan.iter().any(|p| p.covers("192.168.2.1")));
    }

    #[test]
    #[cfg(feature = "cli")]
    fn a_permit_within_others_needs_no_new_root() {
        let permits = permits_with(&strings(&["10.0.0.0/8", "myapp.test"])).unwrap();
        let within = |text: &str| Permit::parse(text).unwrap().is_within(&permits);
        for yes in [
            "localhost",
            "app.localhost",
            ".app.localhost",
            ".localhost",
            "127.0.0.1",
            "127.0.0.0/16",
            "10.1.0.0/16",
            "::1",
            "api.myapp.test",
            ".myapp.test",
        ] {
            assert!(within(yes), "{yes}");
        }
        for no in [
            "example.test",
            "test",
            ".test",
            "126.0.0.0/7",
            "0.0.0.0/0",
            "11.0.0.1",
            "fd00::/8",
            "::2",
        ] {
            assert!(!within(no), "{no}");
        }
    }

    #[test]
    fn name_constraints_hold_every_permit() {
        let permits = permits_with(&strings(&["10.1.0.0/16"])).unwrap();
        let nc = name_constraints(&permits);
        assert!(nc.excluded_subtrees.is_empty());
        assert_eq!(
            nc.permitted_subtrees,
            vec![
                rcgen::GeneralSubtree::DnsName("localhost".into()),
                rcgen::GeneralSubtree::DnsName(".localhost".into()),
                rcgen::GeneralSubtree::IpAddress(rcgen::CidrSubnet::V4(
                    [127, 0, 0, 0],
                    [255, 0, 0, 0]
                )),
                rcgen::GeneralSubtree::IpAddress(rcgen::CidrSubnet::V6(
                    std::net::Ipv6Addr::LOCALHOST.octets(),
                    [0xff; 16]
                )),
                rcgen::GeneralSubtree::IpAddress(rcgen::CidrSubnet::V4(
                    [10, 1, 0, 0],
                    [255, 255, 0, 0]
                )),
            ]
        );
    }

    #[test]
    fn data_directory_follows_xdg_then_home() {
        let os = |s: &str| Some(std::ffi::OsString::from(s));
        assert_eq!(
            data_dir_from(os("/x/data"), os("/home/u"), false),
            Some(PathBuf::from("/x/data/werk"))
        );
        assert_eq!(
            data_dir_from(os("relative"), os("/home/u"), false),
            Some(PathBuf::from("/home/u/.local/share/werk")),
            "a relative XDG_DATA_HOME is ignored"
        );
        assert_eq!(
            data_dir_from(None, os("/home/u"), false),
            Some(PathBuf::from("/home/u/.local/share/werk"))
        );
        assert_eq!(
            data_dir_from(os("/x/data"), os("/Users/u"), true),
            Some(PathBuf::from("/Users/u/Library/Application Support/werk"))
        );
        assert_eq!(data_dir_from(None, None, false), None);
        assert_eq!(data_dir_from(None, os(""), true), None);
    }

    #[test]
    fn a_leaf_is_renewed_when_old_renamed_or_resigned() {
        let now = 1_800_000_000;
        let names = strings(&["localhost", "127.0.0.1"]);
        let fresh = LeafInfo {
            root: "abc".into(),
            not_after: now + 30 * DAY,
            names: strings(&["127.0.0.1", "localhost"]),
        };
        assert!(leaf_is_current(Some(&fresh), "abc", &names, now));
        assert!(!leaf_is_current(None, "abc", &names, now), "none stored");
        let ending = LeafInfo {
            not_after: now + 6 * DAY,
            ..fresh.clone()
        };
        assert!(
            !leaf_is_current(Some(&ending), "abc", &names, now),
            "six days left"
        );
        let eight = LeafInfo {
            not_after: now + 8 * DAY,
            ..fresh.clone()
        };
        assert!(
            leaf_is_current(Some(&eight), "abc", &names, now),
            "eight days left"
        );
        assert!(
            !leaf_is_current(Some(&fresh), "def", &names, now),
            "another root"
        );
        let more = strings(&["localhost", "127.0.0.1", "::1"]);
        assert!(
            !leaf_is_current(Some(&fresh), "abc", &more, now),
            "names added"
        );
        assert!(
            !leaf_is_current(Some(&fresh), "abc", &names[..1], now),
            "names removed"
        );
    }

    #[test]
    fn leaf_files_are_named_by_host() {
        let dir = Path::new("/d");
        assert_eq!(leaf_path(dir, "localhost"), dir.join("leaf-localhost.pem"));
        assert_eq!(
            leaf_path(dir, "unix:///tmp/a.sock"),
            dir.join("leaf-localhost.pem")
        );
        assert_eq!(leaf_path(dir, "[::]"), dir.join("leaf-__.pem"));
        assert_eq!(
            leaf_path(dir, "App.Localhost"),
            dir.join("leaf-app.localhost.pem")
        );
    }

    #[test]
    fn root_files_round_trip_and_the_key_is_private() {
        let dir = temp_dir("root");
        let now = unix_now();
        let made = Root::create(&dir, &permits_with(&[]).unwrap(), now).unwrap();
        assert_eq!(made.id.len(), 12);
        assert_eq!(
            fs::metadata(dir.join("root.key"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
        assert_eq!(
            fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let loaded = Root::load(&dir).unwrap().expect("a root");
        assert_eq!(loaded.id, made.id);
        assert_eq!(loaded.permits, made.permits);
        assert_eq!(loaded.cert_pem, made.cert_pem);
        assert_eq!(loaded.not_after, now + ROOT_DAYS * DAY);
        assert!(Root::load(&dir.join("none")).unwrap().is_none());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn wildcard_hosts_add_permitted_interfaces_only() {
        let dir = temp_dir("names");
        let root = Root::create(
            &dir,
            &permits_with(&strings(&["10.0.0.0/8"])).unwrap(),
            unix_now(),
        )
        .unwrap();
        let lan: Vec<IpAddr> = vec!["10.1.2.3".parse().unwrap(), "192.168.1.5".parse().unwrap()];
        let (names, left_out) = leaf_names(&root, "0.0.0.0", &lan);
        assert_eq!(
            names,
            strings(&["localhost", "127.0.0.1", "::1", "10.1.2.3"])
        );
        assert_eq!(left_out, strings(&["192.168.1.5"]));
        let (names, left_out) = leaf_names(&root, "myapp.test", &lan);
        assert_eq!(names.len(), 3, "no interfaces for a named host");
        assert_eq!(left_out, strings(&["myapp.test", "*.myapp.test"]));
        let (names, _) = leaf_names(&root, "api.localhost", &lan);
        assert_eq!(
            names,
            strings(&[
                "localhost",
                "127.0.0.1",
                "::1",
                "api.localhost",
                "*.api.localhost"
            ])
        );
        let _ = fs::remove_dir_all(&dir);
    }

    /// rustls (webpki) checks the root's name constraints: a certificate
    /// the root signed for a local name verifies, one for `example.com`
    /// (alone or beside local names) is refused.
    #[test]
    fn rustls_refuses_names_outside_the_constraints() {
        use rustls::client::danger::ServerCertVerifier;
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

        let dir = temp_dir("rustls");
        let now = unix_now();
        let root = Root::create(&dir, &permits_with(&[]).unwrap(), now).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(root.cert_pem.as_bytes()).unwrap())
            .unwrap();
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let verifier =
            rustls::client::WebPkiServerVerifier::builder_with_provider(roots.into(), provider)
                .build()
                .unwrap();
        let verify = |names: &[&str], server: &str| {
            let leaf = root.issue(&strings(names), now).unwrap();
            let cert = CertificateDer::from_pem_slice(leaf.cert_pem.as_bytes()).unwrap();
            verifier.verify_server_cert(
                &cert,
                &[],
                &ServerName::try_from(server.to_owned()).unwrap(),
                &[],
                UnixTime::now(),
            )
        };
        let local = [
            "localhost",
            "app.localhost",
            "*.app.localhost",
            "127.0.0.1",
            "::1",
        ];
        for server in [
            "localhost",
            "app.localhost",
            "x.app.localhost",
            "127.0.0.1",
            "::1",
        ] {
            assert!(
                verify(&local, server).is_ok(),
                "{server}: {:?}",
                verify(&local, server)
            );
        }
        let outside = verify(&["example.com"], "example.com").unwrap_err();
        assert!(
            format!("{outside:?}").contains("NameConstraintViolation"),
            "{outside:?}"
        );
        let mixed = verify(&["localhost", "example.com"], "localhost").unwrap_err();
        assert!(
            format!("{mixed:?}").contains("NameConstraintViolation"),
            "{mixed:?}"
        );
        let lan = verify(&["10.0.0.1"], "10.0.0.1").unwrap_err();
        assert!(
            format!("{lan:?}").contains("NameConstraintViolation"),
            "{lan:?}"
        );
        // Why leaf_names leaves `*.localhost` out: refused as malformed,
        // and with it the whole certificate.
        assert!(verify(&["localhost", "*.localhost"], "localhost").is_err());
        let _ = fs::remove_dir_all(&dir);
    }

    /// A running server's certificate is replaced when a week of it is
    /// left, by the one a restart would get; until then it stays.
    #[test]
    fn a_running_server_renews_its_certificate() {
        let dir = temp_dir("renewing");
        let now = unix_now();
        Root::create(&dir, &permits_with(&[]).unwrap(), now).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let renewing = Renewing::in_dir(dir.clone(), "localhost", provider, now, false).unwrap();
        let first = renewing.at(now);
        let leaf = |at: u64| renewing.at(at).cert[0].clone();
        assert_eq!(leaf(now + 22 * DAY), first.cert[0], "eight days left");
        let renewed = leaf(now + 24 * DAY);
        assert_ne!(renewed, first.cert[0], "six days left");
        let stored = LeafInfo::parse(&fs::read_to_string(leaf_path(&dir, "localhost")).unwrap());
        assert_eq!(stored.unwrap().not_after, now + 24 * DAY + LEAF_DAYS * DAY);
        assert_eq!(
            leaf(now + 25 * DAY),
            renewed,
            "kept until its own last week"
        );
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn leaf_file_reads_back() {
        let dir = temp_dir("leaf");
        let root = Root::create(&dir, &permits_with(&[]).unwrap(), unix_now()).unwrap();
        let leaf = root
            .issue(&strings(&["localhost", "::1"]), unix_now())
            .unwrap();
        let path = dir.join("leaf-localhost.pem");
        write_replacing(&path, leaf.file_text().as_bytes(), 0o600).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(LeafInfo::parse(&text), Some(leaf.info.clone()));
        let (certs, _key) = super::super::certs::load(&path, &path).unwrap();
        assert_eq!(certs.len(), 1, "the file holds the certificate and its key");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let _ = fs::remove_dir_all(&dir);
    }
}
