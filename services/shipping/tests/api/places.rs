//! Countries and cities: the shipped data is all there, and city search
//! finds names by their start whatever the case and accents, filtered by
//! country, the largest first, within a limit.

use std::collections::HashSet;

use eshop_test_support::on_both_backends;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, id_of, spawn};

on_both_backends!(
    every_country_is_listed_with_its_cities,
    search_finds_every_city_of_every_country,
    search_matches_the_start_of_names_largest_first,
    search_ignores_case_and_accents,
    search_filters_by_country,
    search_returns_at_most_the_limit,
    a_city_is_found_by_its_id,
    unknown_cities_are_not_found,
    loading_the_city_data_again_changes_nothing,
);

async fn every_country_is_listed_with_its_cities(app: TestApp) {
    let countries = app.get_json("/v1/countries").await;
    let countries = countries.as_array().expect("a list");
    assert!(countries.len() >= 40, "{} countries", countries.len());
    let names: Vec<&str> = countries
        .iter()
        .map(|country| country["name"].as_str().expect("a name"))
        .collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "by name");
    let mut cities = 0;
    for country in countries {
        let code = country["code"].as_str().expect("a code");
        assert!(
            code.len() == 2 && code.bytes().all(|byte| byte.is_ascii_uppercase()),
            "{country}"
        );
        let count = country["city_count"].as_i64().expect("a count");
        assert!(count >= 1, "{country}");
        cities += count;
    }
    assert!(cities >= 250, "{cities} cities");
    assert!(countries.contains(&json!({"code": "NL", "name": "Netherlands", "city_count": 16})));
    for code in ["US", "BR", "ZA", "JP", "AU", "DE"] {
        assert!(
            countries.iter().any(|country| country["code"] == code),
            "{code} is missing"
        );
    }
}

async fn search_finds_every_city_of_every_country(app: TestApp) {
    let countries = app.get_json("/v1/countries").await;
    let countries = countries.as_array().expect("a list");
    // Every city by its first letter; a letter with more than a page of
    // cities is asked for country by country.
    let mut cities: Vec<Value> = Vec::new();
    for letter in 'a'..='z' {
        let found = app.search(&format!("q={letter}&limit=50")).await;
        if found.len() < 50 {
            cities.extend(found);
            continue;
        }
        for country in countries {
            let code = country["code"].as_str().expect("a code");
            let found = app
                .search(&format!("q={letter}&country={code}&limit=50"))
                .await;
            assert!(found.len() < 50, "{letter} in {code}");
            cities.extend(found);
        }
    }
    let ids: HashSet<&str> = cities.iter().map(id_of).collect();
    assert_eq!(ids.len(), cities.len(), "each city once");
    for country in countries {
        let of_country: Vec<&Value> = cities
            .iter()
            .filter(|city| city["country_code"] == country["code"])
            .collect();
        assert_eq!(
            of_country.len() as i64,
            country["city_count"].as_i64().expect("a count"),
            "cities of {country}"
        );
        for city in of_country {
            assert_eq!(city["country_name"], country["name"], "{city}");
        }
    }
    let counted: i64 = countries
        .iter()
        .map(|country| country["city_count"].as_i64().expect("a count"))
        .sum();
    assert_eq!(cities.len() as i64, counted, "no city without a country");
}

async fn search_matches_the_start_of_names_largest_first(app: TestApp) {
    let par = app.search_names("q=par").await;
    assert_eq!(par.first().map(String::as_str), Some("Paris"), "{par:?}");
    assert!(par.contains(&"Parma".to_owned()), "{par:?}");
    assert!(
        par.iter()
            .all(|name| name.to_lowercase().starts_with("par")),
        "{par:?}"
    );
    assert_eq!(app.search_names("q=PAR").await, par);
    assert_eq!(app.search_names("q=%20%20Par%20").await, par);

    let san = app.search_names("q=san&country=US").await;
    assert_eq!(
        san,
        ["San Antonio", "San Diego", "San Jose", "San Francisco"],
        "most populous first"
    );
    assert_eq!(app.search_names("q=new%20y").await, ["New York"]);
    assert_eq!(app.search_names("q=rotterdam").await, ["Rotterdam"]);
    assert!(app.search("q=york%20new").await.is_empty());
    assert!(app.search("q=qqq").await.is_empty());
}

async fn search_ignores_case_and_accents(app: TestApp) {
    let sao = app.search_names("q=sao").await;
    assert_eq!(sao, ["São Paulo", "São Luís"]);
    assert_eq!(app.search_names("q=S%C3%83O").await, sao, "SÃO");
    assert_eq!(app.search_names("q=zur").await, ["Zürich"]);
    assert_eq!(app.search_names("q=z%C3%BCr").await, ["Zürich"], "zür");
    assert_eq!(
        app.search_names("q=ZU%CC%88R").await,
        ["Zürich"],
        "decomposed ZÜR"
    );
    assert_eq!(app.search_names("q=lodz").await, ["Łódź"]);
    assert_eq!(app.search_names("q=izmir").await, ["İzmir"]);
    assert_eq!(app.search_names("q=reykjavik").await, ["Reykjavík"]);
    assert_eq!(app.search_names("q=st%20johns").await, ["St. John's"]);
    assert_eq!(app.search_names("q=st.%20john%27s").await, ["St. John's"]);
    assert_eq!(
        app.search_names("q=saint%20etienne").await,
        ["Saint-Étienne"]
    );
    assert_eq!(app.search_names("q=saint-%C3%A9").await, ["Saint-Étienne"]);
}

async fn search_filters_by_country(app: TestApp) {
    assert_eq!(app.search_names("q=par&country=FR").await, ["Paris"]);
    assert_eq!(app.search_names("q=par&country=IT").await, ["Parma"]);
    assert_eq!(app.search_names("q=cordoba").await.len(), 2);
    let cordoba = app.search("q=cordoba&country=ES").await;
    assert_eq!(cordoba.len(), 1);
    assert_eq!(cordoba[0]["country_name"], "Spain");
    let brazil = app.search("q=s&country=BR&limit=50").await;
    assert!(brazil.len() >= 4, "{brazil:?}");
    assert!(brazil.iter().all(|city| city["country_code"] == "BR"));
    assert!(app.search("q=par&country=ZZ").await.is_empty());
}

async fn search_returns_at_most_the_limit(app: TestApp) {
    assert_eq!(app.search("q=s").await.len(), 10, "10 by default");
    assert_eq!(app.search("q=s&limit=3").await.len(), 3);
    assert_eq!(app.search("q=s&limit=1").await.len(), 1);
    let fifty = app.search("q=s&limit=50").await;
    assert_eq!(fifty.len(), 50);
    let first_three: Vec<&Value> = fifty.iter().take(3).collect();
    let three = app.search("q=s&limit=3").await;
    assert_eq!(
        three.iter().collect::<Vec<_>>(),
        first_three,
        "the same order"
    );
}

async fn a_city_is_found_by_its_id(app: TestApp) {
    let rotterdam = app.get_json("/v1/cities/nl-rotterdam").await;
    assert_eq!(
        rotterdam,
        json!({
            "id": "nl-rotterdam",
            "name": "Rotterdam",
            "country_code": "NL",
            "country_name": "Netherlands",
            "latitude": 51.9244,
            "longitude": 4.4777,
        })
    );
    let sao_paulo = &app.search("q=sao%20p").await[0];
    assert_eq!(id_of(sao_paulo), "br-sao-paulo");
    assert_eq!(
        &app.get_json(&format!("/v1/cities/{}", id_of(sao_paulo)))
            .await,
        sao_paulo
    );
}

async fn unknown_cities_are_not_found(app: TestApp) {
    for path in [
        "/v1/cities/xx-nowhere",
        "/v1/cities/NL-ROTTERDAM",
        "/v1/cities/not%20an%20id",
        &format!("/v1/cities/{}", "a".repeat(65)),
    ] {
        assert_error(
            app.get(path).await,
            StatusCode::NOT_FOUND,
            "not_found",
            None,
        )
        .await;
    }
}

async fn loading_the_city_data_again_changes_nothing(app: TestApp) {
    let countries = app.get_json("/v1/countries").await;
    let quote = app.quote("fr-paris", 1000).await;
    let app = app.restarted().await;
    assert_eq!(app.get_json("/v1/countries").await, countries);
    assert_eq!(app.search_names("q=paris").await, ["Paris"]);
    let again = app.get_json(&format!("/v1/quotes/{}", id_of(&quote))).await;
    assert_eq!(again, quote, "quotes outlive a restart");
}
