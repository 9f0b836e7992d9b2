//! Money as integer nano-dollars: sums are exact, unlike `f64`.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::{Add, AddAssign};

/// An amount of US dollars in integer nano-dollars (1 USD = 1_000_000_000).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Usd(i64);

impl Usd {
    /// Nano-dollars in one dollar.
    pub const NANOS_PER_USD: i64 = 1_000_000_000;
    /// Zero dollars.
    pub const ZERO: Usd = Usd(0);

    /// An amount from nano-dollars.
    pub const fn from_nanos(nanos: i64) -> Self {
        Self(nanos)
    }

    /// The amount in nano-dollars.
    pub const fn nanos(self) -> i64 {
        self.0
    }

    /// Parses a decimal dollar amount such as `12`, `0.5` or `0.000150000` exactly (at most
    /// nine fractional digits, no sign, no exponent).
    pub fn parse_decimal(text: &str) -> Result<Self, UsdParseError> {
        let text = text.trim();
        let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !digits(whole) || !digits(frac) || frac.len() > 9 {
            return Err(UsdParseError(text.to_owned()));
        }
        let whole: i64 = whole.parse().map_err(|_| UsdParseError(text.to_owned()))?;
        let frac_nanos: i64 = format!("{frac:0<9}")
            .parse()
            .map_err(|_| UsdParseError(text.to_owned()))?;
        whole
            .checked_mul(Self::NANOS_PER_USD)
            .and_then(|n| n.checked_add(frac_nanos))
            .map(Usd)
            .ok_or_else(|| UsdParseError(text.to_owned()))
    }

    /// Adds without wrapping; saturates at the representable limits.
    pub fn saturating_add(self, other: Usd) -> Usd {
        Usd(self.0.saturating_add(other.0))
    }
}

impl Add for Usd {
    type Output = Usd;
    fn add(self, rhs: Usd) -> Usd {
        self.saturating_add(rhs)
    }
}

impl AddAssign for Usd {
    fn add_assign(&mut self, rhs: Usd) {
        *self = self.saturating_add(rhs);
    }
}

/// A string that is not a plain decimal dollar amount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a dollar amount: {0:?} (expected digits with at most nine decimals, e.g. 12.50)")]
pub struct UsdParseError(pub String);

/// Prints a decimal dollar amount with nine fractional digits, e.g. `0.000150000`, the form used
/// in the `x-keyway-cost-usd` header: exact, no float rounding.
impl fmt::Display for Usd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let per = Self::NANOS_PER_USD.unsigned_abs();
        write!(f, "{sign}{}.{:09}", abs / per, abs % per)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_exact_decimal_dollars() {
        assert_eq!(Usd::from_nanos(150_000).to_string(), "0.000150000");
        assert_eq!(Usd::from_nanos(2_500_000_001).to_string(), "2.500000001");
        assert_eq!(Usd::from_nanos(-5).to_string(), "-0.000000005");
    }

    #[test]
    fn parses_decimal_dollars_exactly() {
        assert_eq!(Usd::parse_decimal("12").unwrap().nanos(), 12_000_000_000);
        assert_eq!(Usd::parse_decimal("0.000150000").unwrap().nanos(), 150_000);
        assert_eq!(
            Usd::parse_decimal("2.5").unwrap().to_string(),
            "2.500000000"
        );
        for bad in [
            "",
            "-1",
            "1e3",
            "1.0000000001",
            ".5",
            "abc",
            "99999999999999999999",
        ] {
            assert!(Usd::parse_decimal(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sums_saturate_instead_of_wrapping() {
        let total = Usd::from_nanos(i64::MAX) + Usd::from_nanos(1);
        assert_eq!(total.nanos(), i64::MAX);
        let mut acc = Usd::ZERO;
        for _ in 0..10 {
            acc += Usd::from_nanos(100_000_000);
        }
        assert_eq!(acc.to_string(), "1.000000000");
    }
}
