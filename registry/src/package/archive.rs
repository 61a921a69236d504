//! The `.lpkg` container: an uncompressed tar archive of exactly `lathe-plugin.json`,
//! `component.wasm` and optionally `signature.json`, in that order, as regular files.
//!
//! Reading is strict on purpose: a package is never unpacked onto a disk by name, but an
//! archive that other tools would read differently (links, directories, `../` names, long-name
//! or PAX extension records, data after the end) has no honest reason to exist, and refusing
//! it keeps every reader of a package agreeing on what it holds.

use std::io::Read;

use super::PackageError;

pub(super) const MANIFEST: &str = "lathe-plugin.json";
pub(super) const COMPONENT: &str = "component.wasm";
pub(super) const SIGNATURE: &str = "signature.json";

/// The entries, in the only order a package may hold them.
const ORDER: [&str; 3] = [MANIFEST, COMPONENT, SIGNATURE];
const BLOCK: u64 = 512;

pub(super) struct Entries {
    pub manifest: Vec<u8>,
    pub component: Vec<u8>,
    pub signature: Option<Vec<u8>>,
}

pub(super) fn read(bytes: &[u8]) -> Result<Entries, PackageError> {
    let bad = |m: String| PackageError::Archive(m);
    let mut archive = tar::Archive::new(bytes);
    // Raw mode hands over GNU long-name and PAX records as entries of their own instead of
    // applying them to the next entry, so the type check below refuses them.
    let entries = archive.entries().map_err(|e| bad(e.to_string()))?.raw(true);

    let mut found: Vec<Vec<u8>> = Vec::new();
    let mut end = 0u64;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(e.to_string()))?;
        let raw_name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        // Escaped for messages: they reach logs and terminals, where a name holding a line
        // break or an escape sequence could forge output.
        let name = raw_name.escape_debug().to_string();
        let kind = entry.header().entry_type();
        if !kind.is_file() {
            return Err(bad(format!(
                "`{name}` is {}; a package holds only regular files",
                describe(kind)
            )));
        }
        match ORDER.get(found.len()) {
            Some(expected) if *expected == raw_name => {}
            Some(expected) if ORDER.contains(&raw_name.as_str()) => {
                return Err(bad(format!(
                    "`{name}` is duplicated or out of order (expected `{expected}` here; \
                     the order is {})",
                    ORDER.join(", ")
                )));
            }
            _ => {
                return Err(bad(format!(
                    "unexpected entry `{name}`: a package holds only {}",
                    ORDER.join(", ")
                )));
            }
        }

        let size = entry.size();
        let mut data = Vec::with_capacity(size.min(bytes.len() as u64) as usize);
        entry
            .read_to_end(&mut data)
            .map_err(|e| bad(format!("reading `{name}`: {e}")))?;
        if data.len() as u64 != size {
            return Err(bad(format!("`{name}` is truncated")));
        }
        end = entry.raw_file_position() + size.div_ceil(BLOCK) * BLOCK;
        found.push(data);
    }

    if found.len() < 2 {
        return Err(bad(format!("it has no `{}`", ORDER[found.len()])));
    }
    let Some(rest) = usize::try_from(end).ok().and_then(|end| bytes.get(end..)) else {
        return Err(bad("the last entry is truncated".into()));
    };
    if rest.iter().any(|b| *b != 0) {
        return Err(bad(
            "there is data after the last entry that is not tar padding".into(),
        ));
    }

    let mut found = found.into_iter();
    Ok(Entries {
        manifest: found.next().unwrap_or_default(),
        component: found.next().unwrap_or_default(),
        signature: found.next(),
    })
}

/// A deterministic archive: fixed order, mode 0644, owner 0:0 with no names, mtime 0, so
/// the same contents always give the same bytes and the same digest.
pub(super) fn write(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        let mut header = tar::Header::new_ustar();
        header
            .set_path(name)
            .expect("package entry names are short relative paths");
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_cksum();
        builder
            .append(&header, *data)
            .expect("writing to memory cannot fail");
    }
    builder.into_inner().expect("writing to memory cannot fail")
}

fn describe(kind: tar::EntryType) -> &'static str {
    match kind {
        tar::EntryType::Directory => "a directory",
        tar::EntryType::Symlink => "a symbolic link",
        tar::EntryType::Link => "a hard link",
        tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => "a device or pipe",
        tar::EntryType::GNULongName | tar::EntryType::GNULongLink => "a GNU long-name record",
        tar::EntryType::XHeader | tar::EntryType::XGlobalHeader => "a PAX extension record",
        _ => "not a regular file",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_archives_read_back() {
        let bytes = write(&[(MANIFEST, b"{}"), (COMPONENT, b"wasm")]);
        assert_eq!(bytes.len() % 512, 0);
        let entries = read(&bytes).unwrap();
        assert_eq!(entries.manifest, b"{}");
        assert_eq!(entries.component, b"wasm");
        assert!(entries.signature.is_none());
    }

    #[test]
    fn writing_is_deterministic() {
        let a = write(&[(MANIFEST, b"{}"), (COMPONENT, b"wasm"), (SIGNATURE, b"s")]);
        let b = write(&[(MANIFEST, b"{}"), (COMPONENT, b"wasm"), (SIGNATURE, b"s")]);
        assert_eq!(a, b);
    }

    #[test]
    fn order_duplicates_and_missing_entries_are_refused() {
        let cases: [&[(&str, &[u8])]; 5] = [
            &[(COMPONENT, b"w"), (MANIFEST, b"{}")],
            &[(MANIFEST, b"{}"), (MANIFEST, b"{}")],
            &[(MANIFEST, b"{}")],
            &[
                (MANIFEST, b"{}"),
                (COMPONENT, b"w"),
                (SIGNATURE, b"s"),
                (SIGNATURE, b"s"),
            ],
            &[(MANIFEST, b"{}"), (COMPONENT, b"w"), ("README.md", b"hi")],
        ];
        for entries in cases {
            let names: Vec<_> = entries.iter().map(|(n, _)| *n).collect();
            assert!(read(&write(entries)).is_err(), "{names:?} was accepted");
        }
    }

    #[test]
    fn trailing_garbage_is_refused_but_padding_is_not() {
        let mut bytes = write(&[(MANIFEST, b"{}"), (COMPONENT, b"w")]);
        bytes.extend_from_slice(&[0; 10240]);
        read(&bytes).unwrap();
        bytes.push(1);
        let error = read(&bytes).err().unwrap().to_string();
        assert!(error.contains("not tar padding"), "{error}");
    }

    #[test]
    fn names_in_messages_cannot_break_lines() {
        let bytes = write(&[("a\nERROR forged\x1b[2J", b"x")]);
        let error = read(&bytes).err().unwrap().to_string();
        assert!(!error.contains('\n') && !error.contains('\x1b'), "{error}");
    }

    #[test]
    fn empty_and_garbage_input_is_refused() {
        assert!(read(b"").is_err());
        assert!(read(&[0; 1024]).is_err());
        assert!(read(b"not a tar archive at all").is_err());
    }
}
