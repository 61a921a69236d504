//! SCRAM channel binding of type `tls-server-end-point` (RFC 5929): the hash of the
//! server's certificate, so that a password exchange relayed through a man in the middle
//! fails even when the middle presented a certificate the client accepted.
//!
//! The hash is the one the certificate's signature uses, except that MD5 and SHA-1 are
//! replaced by SHA-256. Certificates signed otherwise (Ed25519, RSA-PSS, SHA-224) get no
//! binding and authenticate without it, as they would with libpq's `prefer`.

use ring::digest;

/// The channel binding data for a DER certificate, if its signature algorithm is known.
pub fn end_point_hash(certificate: &[u8]) -> Option<Vec<u8>> {
    let algorithm = match signature_algorithm(certificate)? {
        MD5_RSA | SHA1_RSA | SHA256_RSA | SHA1_ECDSA | SHA256_ECDSA => &digest::SHA256,
        SHA384_RSA | SHA384_ECDSA => &digest::SHA384,
        SHA512_RSA | SHA512_ECDSA => &digest::SHA512,
        _ => return None,
    };
    Some(digest::digest(algorithm, certificate).as_ref().to_vec())
}

// DER contents of the signature algorithm OIDs (1.2.840.113549.1.1.x, 1.2.840.10045.4.x).
const MD5_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x04];
const SHA1_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05];
const SHA256_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
const SHA384_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c];
const SHA512_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d];
const SHA1_ECDSA: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01];
const SHA256_ECDSA: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
const SHA384_ECDSA: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03];
const SHA512_ECDSA: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04];

const SEQUENCE: u8 = 0x30;
const OID: u8 = 0x06;

/// The OID in `Certificate.signatureAlgorithm`: the certificate is
/// SEQUENCE { tbsCertificate SEQUENCE, signatureAlgorithm SEQUENCE { OID, … }, … }.
fn signature_algorithm(certificate: &[u8]) -> Option<&[u8]> {
    let (SEQUENCE, body, _) = element(certificate)? else {
        return None;
    };
    let (SEQUENCE, _tbs, rest) = element(body)? else {
        return None;
    };
    let (SEQUENCE, algorithm, _) = element(rest)? else {
        return None;
    };
    let (OID, oid, _) = element(algorithm)? else {
        return None;
    };
    Some(oid)
}

/// The DER element at the start of `input`: its tag, its contents and what follows it.
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (digits, rest) = rest.split_at(count);
        let length = digits
            .iter()
            .fold(0usize, |length, byte| (length << 8) | usize::from(*byte));
        (length, rest)
    };
    (rest.len() >= length).then(|| (tag, &rest[..length], &rest[length..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SEQUENCE { SEQUENCE {}, SEQUENCE { OID }, BIT STRING {} }.
    fn certificate_signed_with(oid: &[u8]) -> Vec<u8> {
        let mut algorithm = vec![SEQUENCE, (oid.len() + 2) as u8, OID, oid.len() as u8];
        algorithm.extend_from_slice(oid);
        let mut body = vec![SEQUENCE, 0];
        body.extend_from_slice(&algorithm);
        body.extend_from_slice(&[0x03, 0]);
        let mut der = vec![SEQUENCE, body.len() as u8];
        der.extend_from_slice(&body);
        der
    }

    #[test]
    fn the_hash_follows_the_signature_algorithm() {
        let sha384 = end_point_hash(&certificate_signed_with(SHA384_ECDSA)).unwrap();
        assert_eq!(sha384.len(), 48);
        let sha256 = end_point_hash(&certificate_signed_with(SHA256_RSA)).unwrap();
        assert_eq!(sha256.len(), 32);
    }

    #[test]
    fn md5_and_sha1_signatures_bind_with_sha256() {
        assert_eq!(
            end_point_hash(&certificate_signed_with(SHA1_RSA))
                .unwrap()
                .len(),
            32
        );
        assert_eq!(
            end_point_hash(&certificate_signed_with(MD5_RSA))
                .unwrap()
                .len(),
            32
        );
    }

    #[test]
    fn unknown_algorithms_and_garbage_get_no_binding() {
        let ed25519 = [0x2b, 0x65, 0x70];
        assert_eq!(end_point_hash(&certificate_signed_with(&ed25519)), None);
        assert_eq!(end_point_hash(&[0x30, 0x82, 0xff]), None);
        assert_eq!(end_point_hash(&[]), None);
    }
}
