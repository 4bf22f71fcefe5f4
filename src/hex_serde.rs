//! Serde helper for bytes written as hex strings (`#[serde(with =
//! "crate::hex_serde")]`): a digest's bytes, a relay record's keys, ids and
//! signatures. Any field that converts from a `Vec<u8>` (a `Vec<u8>`, a
//! fixed-size array) can use it; a wrong length is a deserialization error.

use serde::{Deserialize, Deserializer, Serializer};

pub(crate) fn serialize<S: Serializer, T: AsRef<[u8]>>(bytes: &T, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(bytes.as_ref()))
}

pub(crate) fn deserialize<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<Vec<u8>>,
{
    let bytes = hex::decode(String::deserialize(d)?).map_err(serde::de::Error::custom)?;
    let len = bytes.len();
    T::try_from(bytes)
        .map_err(|_| serde::de::Error::custom(format!("unexpected length {len} bytes")))
}

#[cfg(test)]
mod tests {
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Both {
        #[serde(with = "super")]
        v: Vec<u8>,
        #[serde(with = "super")]
        a: [u8; 2],
    }

    #[test]
    fn round_trips_and_refuses_a_wrong_length() {
        let b = Both {
            v: vec![1, 0xff],
            a: [0xab, 0],
        };
        let json = serde_json::to_string(&b).unwrap();
        assert_eq!(json, r#"{"v":"01ff","a":"ab00"}"#);
        assert_eq!(serde_json::from_str::<Both>(&json).unwrap(), b);
        let e = serde_json::from_str::<Both>(r#"{"v":"","a":"ab"}"#).unwrap_err();
        assert!(e.to_string().contains("unexpected length 1 bytes"), "{e}");
        assert!(serde_json::from_str::<Both>(r#"{"v":"zz","a":"abab"}"#).is_err());
    }
}
