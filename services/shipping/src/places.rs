//! The countries and cities shipping delivers to, shipped inside the crate
//! as `data/cities.csv` (country code, country name, city, latitude,
//! longitude, approximate population in thousands). Preparation loads them
//! into the store, so search runs on the database's indexes; loading again
//! changes only what the file changed.
//!
//! A city's id comes from its country and name (`fr-paris`), so it stays
//! the same from one start to the next. Cities are never deleted: a quote
//! may still name one that a later file left out.

use std::collections::{HashMap, HashSet};

use crate::domain::{CityId, Coordinates, CountryCode, city_id_of, search_key};

/// The city data.
pub const DATA: &str = include_str!("../data/cities.csv");

const HEADER: &str = "country_code,country_name,city,latitude,longitude,population_thousands";

/// One city of the data, ready for a store.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    pub id: CityId,
    pub country_code: CountryCode,
    pub country_name: String,
    pub name: String,
    /// The name as search compares it.
    pub search_name: String,
    pub coordinates: Coordinates,
    /// Approximate, in people; ranks search results.
    pub population: i64,
}

/// A line of the data that does not hold a city.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line} of the city data: {reason}")]
pub struct DataError {
    pub line: usize,
    pub reason: String,
}

/// Reads the city data: a header, then one city a line.
pub fn parse(text: &str) -> Result<Vec<Place>, DataError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line));
    match lines.next() {
        Some((_, header)) if header.trim() == HEADER => {}
        _ => {
            return Err(DataError {
                line: 1,
                reason: format!("the header must be `{HEADER}`"),
            });
        }
    }
    let mut places = Vec::new();
    let mut ids = HashSet::new();
    let mut country_names: HashMap<String, String> = HashMap::new();
    for (line, text) in lines.filter(|(_, text)| !text.trim().is_empty()) {
        let error = |reason: String| DataError { line, reason };
        let place = place(text).map_err(error)?;
        if !ids.insert(place.id.clone()) {
            return Err(error(format!("a second city with id {}", place.id)));
        }
        let name = country_names
            .entry(place.country_code.as_str().to_owned())
            .or_insert_with(|| place.country_name.clone());
        if *name != place.country_name {
            return Err(error(format!(
                "{} is named {name} on an earlier line",
                place.country_code.as_str()
            )));
        }
        places.push(place);
    }
    Ok(places)
}

fn place(line: &str) -> Result<Place, String> {
    let fields: Vec<&str> = line.split(',').map(str::trim).collect();
    let [code, country_name, name, latitude, longitude, population] = fields[..] else {
        return Err(format!("expected 6 fields, found {}", fields.len()));
    };
    let country_code =
        CountryCode::parse("country_code", code).map_err(|error| error.message().to_owned())?;
    if country_name.is_empty() || name.is_empty() {
        return Err("the country and the city need names".to_owned());
    }
    let coordinates = format!("{latitude},{longitude}").parse::<Coordinates>()?;
    let population = population
        .parse::<i64>()
        .ok()
        .filter(|thousands| *thousands >= 0)
        .ok_or_else(|| format!("the population {population:?} is not a number of thousands"))?;
    let id = city_id_of(&country_code, name)
        .map_err(|_| format!("{name} has no plain-letter id; spell it in Latin letters"))?;
    Ok(Place {
        id,
        search_name: search_key(name),
        country_code,
        country_name: country_name.to_owned(),
        name: name.to_owned(),
        coordinates,
        population: population * 1_000,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_data_reads_and_spans_the_world() {
        let places = parse(DATA).unwrap_or_else(|error| panic!("{error}"));
        assert!(places.len() >= 250, "{} cities", places.len());
        let countries: HashSet<&str> = places.iter().map(|p| p.country_code.as_str()).collect();
        assert!(countries.len() >= 40, "{} countries", countries.len());
        let rotterdam = places
            .iter()
            .find(|place| place.id.as_str() == "nl-rotterdam")
            .expect("the default warehouse's city is there");
        assert_eq!(rotterdam.name, "Rotterdam");
        assert_eq!(rotterdam.country_name, "Netherlands");
        // Every inhabited continent, by a corner of it.
        for (south, north, west, east) in [
            (35.0, 72.0, -25.0, 45.0),    // Europe
            (-35.0, 15.0, -20.0, 52.0),   // Africa
            (-11.0, 55.0, 60.0, 150.0),   // Asia
            (15.0, 72.0, -170.0, -50.0),  // North America
            (-56.0, 13.0, -82.0, -34.0),  // South America
            (-48.0, -10.0, 110.0, 180.0), // Oceania
        ] {
            assert!(
                places.iter().any(|place| {
                    let at = place.coordinates;
                    (south..=north).contains(&at.latitude) && (west..=east).contains(&at.longitude)
                }),
                "no city in {south}..{north} N, {west}..{east} E"
            );
        }
    }

    #[test]
    fn a_city_gets_its_id_search_name_and_population() {
        let places = parse(&format!(
            "{HEADER}\nBR,Brazil,São Paulo,-23.5505,-46.6333,12300\n"
        ))
        .unwrap();
        let place = &places[0];
        assert_eq!(place.id.as_str(), "br-sao-paulo");
        assert_eq!(place.search_name, "sao paulo");
        assert_eq!(place.population, 12_300_000);
        assert_eq!(
            place.coordinates,
            Coordinates::new(-23.5505, -46.6333).unwrap()
        );
    }

    #[test]
    fn bad_lines_are_named() {
        let line_of = |body: &str| parse(&format!("{HEADER}\n{body}\n")).unwrap_err().line;
        assert_eq!(line_of("NL,Netherlands,Delft,52.01,4.36"), 2);
        assert_eq!(line_of("nl,Netherlands,Delft,52.01,4.36,105"), 2);
        assert_eq!(line_of("NL,Netherlands,Delft,95,4.36,105"), 2);
        assert_eq!(line_of("NL,Netherlands,Delft,52.01,4.36,-1"), 2);
        assert_eq!(line_of("NL,Netherlands,,52.01,4.36,105"), 2);
        assert_eq!(line_of("JP,Japan,東京,35.68,139.65,14000"), 2);
        assert_eq!(
            line_of("NL,Netherlands,Delft,52.01,4.36,105\nNL,Netherlands,Delft,52.01,4.36,105"),
            3
        );
        assert_eq!(
            line_of("NL,Netherlands,Delft,52.01,4.36,105\nNL,Holland,Leiden,52.16,4.49,125"),
            3
        );
        assert_eq!(parse("city,latitude\n").unwrap_err().line, 1);
    }
}
