//! Dates and times from PostgreSQL's ISO output (`DateStyle = ISO`) to the WIT formats.
//!
//! Each function returns `None` when the text is not of the expected shape (`infinity`,
//! BC dates, another `DateStyle`), so the caller can hand the text on unchanged.
//! `timestamptz` is converted to UTC even though the session's TimeZone is UTC, because a
//! query may `SET TIME ZONE` and the server then prints local times with their offset.

/// `2026-12-04`.
pub fn date(text: &str) -> Option<String> {
    is_date(text).then(|| text.to_string())
}

/// `15:04:05` or `15:04:05.123456`.
pub fn time(text: &str) -> Option<String> {
    is_time(text).then(|| text.to_string())
}

/// `15:04:05+02` becomes `15:04:05+02:00`: the time with its offset in ISO 8601 form.
pub fn time_with_zone(text: &str) -> Option<String> {
    let (time, offset) = split_offset(text)?;
    is_time(time).then(|| format!("{time}{}", offset_text(offset)))
}

/// `2026-12-04 15:04:05.5` becomes `2026-12-04T15:04:05.5`.
pub fn timestamp(text: &str) -> Option<String> {
    let (date, time) = text.split_once(' ')?;
    (is_date(date) && is_time(time)).then(|| format!("{date}T{time}"))
}

/// `2026-12-04 17:04:05.5+02` becomes `2026-12-04T15:04:05.5Z`.
pub fn timestamptz(text: &str) -> Option<String> {
    let (date, rest) = text.split_once(' ')?;
    let (time, offset) = split_offset(rest)?;
    if !is_date(date) || !is_time(time) {
        return None;
    }
    let year: i64 = date[..date.len() - 6].parse().ok()?;
    let month: i64 = date[date.len() - 5..date.len() - 3].parse().ok()?;
    let day: i64 = date[date.len() - 2..].parse().ok()?;
    let (clock, fraction) = time.split_at(8);
    let hour: i64 = clock[0..2].parse().ok()?;
    let minute: i64 = clock[3..5].parse().ok()?;
    let second: i64 = clock[6..8].parse().ok()?;

    let local = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    let utc = local - offset;
    let (days, seconds) = (utc.div_euclid(86_400), utc.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    if year < 1 {
        return None;
    }
    Some(format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}{fraction}Z",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    ))
}

fn is_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() >= 10
        && b[b.len() - 3] == b'-'
        && b[b.len() - 6] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| c.is_ascii_digit() || i == b.len() - 3 || i == b.len() - 6)
}

fn is_time(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| b[range].iter().all(u8::is_ascii_digit);
    b.len() >= 8
        && digits(0..2)
        && b[2] == b':'
        && digits(3..5)
        && b[5] == b':'
        && digits(6..8)
        && (b.len() == 8 || (b[8] == b'.' && b.len() > 9 && digits(9..b.len())))
}

/// Splits `15:04:05+05:30` into the time and the offset in seconds east of UTC.
fn split_offset(text: &str) -> Option<(&str, i64)> {
    let at = text.rfind(['+', '-'])?;
    let (time, offset) = text.split_at(at);
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    let mut seconds = 0;
    let mut unit = 3600;
    for part in offset[1..].split(':') {
        if part.len() != 2 || unit == 0 {
            return None;
        }
        seconds += part.parse::<i64>().ok()? * unit;
        unit /= 60;
    }
    Some((time, sign * seconds))
}

fn offset_text(offset: i64) -> String {
    let sign = if offset < 0 { '-' } else { '+' };
    let offset = offset.abs();
    let seconds = offset % 60;
    let base = format!("{sign}{:02}:{:02}", offset / 3600, offset / 60 % 60);
    if seconds == 0 {
        base
    } else {
        format!("{base}:{seconds:02}")
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_timestamptz_gets_t_and_z() {
        assert_eq!(
            timestamptz("2026-12-04 15:04:05.123456+00").as_deref(),
            Some("2026-12-04T15:04:05.123456Z")
        );
    }

    #[test]
    fn offsets_are_converted_to_utc_across_days() {
        assert_eq!(
            timestamptz("2024-03-01 01:30:00+05:30").as_deref(),
            Some("2024-02-29T20:00:00Z")
        );
        assert_eq!(
            timestamptz("1999-12-31 23:00:00-02").as_deref(),
            Some("2000-01-01T01:00:00Z")
        );
    }

    #[test]
    fn infinity_and_bc_are_not_converted() {
        assert_eq!(timestamptz("infinity"), None);
        assert_eq!(timestamp("0044-03-15 12:00:00 BC"), None);
        assert_eq!(date("-infinity"), None);
        assert_eq!(date("0044-03-15 BC"), None);
    }

    #[test]
    fn timestamp_and_times_keep_their_fraction() {
        assert_eq!(
            timestamp("2026-12-04 15:04:05.5").as_deref(),
            Some("2026-12-04T15:04:05.5")
        );
        assert_eq!(time("23:59:59.999999").as_deref(), Some("23:59:59.999999"));
        assert_eq!(
            time_with_zone("15:04:05-03:30").as_deref(),
            Some("15:04:05-03:30")
        );
        assert_eq!(
            time_with_zone("15:04:05+02").as_deref(),
            Some("15:04:05+02:00")
        );
    }

    #[test]
    fn civil_day_conversion_round_trips() {
        for days in [-800_000, -1, 0, 1, 11_016, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }
}
