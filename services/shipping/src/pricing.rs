//! What a parcel costs and how long it takes: the great-circle distance
//! from the warehouse (haversine), a price from that distance and the
//! parcel's weight, and delivery days from the distance. Pure functions, so
//! the same parcel always gets the same quote.
//!
//! The price is 4.99 plus 0.04 for every started 10 km plus 1.50 for every
//! started kilogram, and never more than 120.00.

use crate::domain::Coordinates;

/// The Earth's mean radius, in km.
const EARTH_RADIUS_KM: f64 = 6371.0088;

/// What every parcel costs, in cents.
pub const BASE_CENTS: i64 = 499;
/// Per started 10 km, in cents.
pub const PER_10_KM_CENTS: i64 = 4;
/// Per started kilogram, in cents.
pub const PER_KG_CENTS: i64 = 150;
/// The most a parcel costs, in cents.
pub const MAX_COST_CENTS: i64 = 12_000;

/// Delivery days by distance: up to each distance (km), that many days.
const DAYS_BY_DISTANCE: [(f64, u32); 5] = [
    (300.0, 1),
    (1_000.0, 2),
    (2_500.0, 3),
    (6_000.0, 5),
    (12_000.0, 7),
];
/// Delivery days beyond the last distance above.
const MOST_DAYS: u32 = 9;

/// The great-circle distance between two points, in km, to one decimal.
pub fn distance_km(from: Coordinates, to: Coordinates) -> f64 {
    let (from_latitude, to_latitude) = (from.latitude.to_radians(), to.latitude.to_radians());
    let half_latitude = (to_latitude - from_latitude) / 2.0;
    let half_longitude = (to.longitude - from.longitude).to_radians() / 2.0;
    let haversine = half_latitude.sin().powi(2)
        + from_latitude.cos() * to_latitude.cos() * half_longitude.sin().powi(2);
    let km = 2.0 * EARTH_RADIUS_KM * haversine.sqrt().min(1.0).asin();
    (km * 10.0).round() / 10.0
}

/// The price of sending `weight_grams` over `distance_km`, in cents.
pub fn cost_cents(distance_km: f64, weight_grams: u32) -> i64 {
    // At most half the Earth's circumference away, so the cast is exact.
    let started_10_km = (distance_km.max(0.0) / 10.0).ceil() as i64;
    let started_kg = i64::from(weight_grams.div_ceil(1_000));
    (BASE_CENTS + PER_10_KM_CENTS * started_10_km + PER_KG_CENTS * started_kg).min(MAX_COST_CENTS)
}

/// Working days until a parcel sent over `distance_km` arrives.
pub fn estimated_days(distance_km: f64) -> u32 {
    DAYS_BY_DISTANCE
        .iter()
        .find(|(up_to, _)| distance_km <= *up_to)
        .map_or(MOST_DAYS, |(_, days)| *days)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(latitude: f64, longitude: f64) -> Coordinates {
        Coordinates::new(latitude, longitude).unwrap()
    }

    #[test]
    fn distances_are_great_circle_kilometres() {
        let rotterdam = at(51.92, 4.48);
        let paris = at(48.8566, 2.3522);
        let d = distance_km(rotterdam, paris);
        assert!((365.0..=380.0).contains(&d), "{d}");
        assert_eq!(distance_km(paris, rotterdam), d, "symmetric");
        assert_eq!(distance_km(paris, paris), 0.0);
        // A quarter of the equator, and half of it (antipodes).
        assert_eq!(distance_km(at(0.0, 0.0), at(0.0, 90.0)), 10_007.6);
        assert_eq!(distance_km(at(0.0, 0.0), at(0.0, 180.0)), 20_015.1);
        assert_eq!(distance_km(at(90.0, 0.0), at(-90.0, 0.0)), 20_015.1);
        // Across the antimeridian, the short way round.
        assert!(distance_km(at(0.0, 179.5), at(0.0, -179.5)) < 112.0);
        assert_eq!((d * 10.0).fract(), 0.0, "one decimal");
    }

    #[test]
    fn the_price_grows_with_distance_and_started_kilograms() {
        assert_eq!(cost_cents(0.0, 1), BASE_CENTS + PER_KG_CENTS);
        assert_eq!(cost_cents(0.0, 1_000), 499 + 150);
        assert_eq!(cost_cents(0.0, 1_001), 499 + 300);
        assert_eq!(cost_cents(10.0, 1_000), 499 + 4 + 150);
        assert_eq!(cost_cents(10.1, 1_000), 499 + 8 + 150);
        assert_eq!(cost_cents(372.5, 2_500), 499 + 38 * 4 + 3 * 150);
        assert!(cost_cents(100.0, 500) < cost_cents(1_000.0, 500));
        assert!(cost_cents(500.0, 500) < cost_cents(500.0, 5_000));
    }

    #[test]
    fn the_price_has_a_cap() {
        assert_eq!(cost_cents(20_015.1, 50_000), MAX_COST_CENTS);
        assert!(cost_cents(20_015.1, 1_000) < MAX_COST_CENTS);
    }

    #[test]
    fn farther_takes_longer() {
        assert_eq!(estimated_days(0.0), 1);
        assert_eq!(estimated_days(300.0), 1);
        assert_eq!(estimated_days(372.5), 2);
        assert_eq!(estimated_days(2_000.0), 3);
        assert_eq!(estimated_days(5_000.0), 5);
        assert_eq!(estimated_days(9_000.0), 7);
        assert_eq!(estimated_days(20_000.0), MOST_DAYS);
        let mut last = 0;
        for km in (0..=20_000).step_by(50) {
            let days = estimated_days(f64::from(km));
            assert!(days >= last, "{km} km");
            last = days;
        }
    }
}
