//! The demo catalog: five categories and fifty products of a shop for robot
//! makers, loaded on request (`POST /internal/demo-data`) or at start when
//! `ESHOP_DEMO_DATA=true`. Loading again changes nothing already there, so
//! prices or stock edited since are kept.

use crate::{
    domain::{NewProduct, Sku, Slug},
    store::{CatalogStore, StoreResult},
};

/// (slug, name, description)
pub const CATEGORIES: [(&str, &str, &str); 5] = [
    (
        "robots",
        "Robots",
        "Complete robots, ready to roll, walk or wave.",
    ),
    (
        "ai",
        "Artificial Intelligence",
        "Brains for your builds: accelerators, boards and models.",
    ),
    (
        "drones",
        "Drones",
        "Things that fly, hover and map from above.",
    ),
    (
        "sensors",
        "Sensors",
        "Eyes, ears and whiskers for machines.",
    ),
    (
        "kits",
        "Kits and Parts",
        "Motors, frames and everything in between.",
    ),
];

/// (sku, category, name, price in cents, stock, weight in grams, description)
pub const PRODUCTS: [(&str, &str, &str, i64, i64, i64, &str); 50] = [
    (
        "ROBOT-ROVER-1",
        "robots",
        "Rover One",
        24_900,
        25,
        4200,
        "A six-wheeled explorer robot with rocker-bogie suspension that climbs kerbs and crosses gravel.",
    ),
    (
        "ROBOT-ARM-2",
        "robots",
        "Desk Arm Two",
        38_900,
        12,
        3100,
        "A five-axis robot arm for the desk that picks, places and draws with a pen holder.",
    ),
    (
        "ROBOT-DOG-3",
        "robots",
        "Quad Pup",
        129_900,
        4,
        7800,
        "A four-legged walking robot that trots, sits and follows you around the house.",
    ),
    (
        "ROBOT-BALANCE-4",
        "robots",
        "Balance Bot",
        15_900,
        30,
        1300,
        "A two-wheeled self-balancing robot that teaches control loops the fun way.",
    ),
    (
        "ROBOT-HUMANOID-5",
        "robots",
        "Mini Humanoid",
        74_900,
        6,
        2600,
        "A small humanoid robot with seventeen servos that walks, waves and dances.",
    ),
    (
        "ROBOT-SWEEP-6",
        "robots",
        "Sweeper",
        29_900,
        18,
        3400,
        "A floor-cleaning robot with lidar mapping and an open API for your own routes.",
    ),
    (
        "ROBOT-SNAKE-7",
        "robots",
        "Sidewinder",
        45_900,
        7,
        2900,
        "A modular snake robot that slithers, rolls and climbs poles.",
    ),
    (
        "ROBOT-TANK-8",
        "robots",
        "Track Tank",
        19_900,
        22,
        2200,
        "A tracked robot chassis with a camera turret for rough ground.",
    ),
    (
        "ROBOT-BUTLER-9",
        "robots",
        "Tray Butler",
        89_900,
        3,
        14500,
        "A service robot that carries a tray between rooms and never spills the tea.",
    ),
    (
        "ROBOT-SUMO-10",
        "robots",
        "Sumo Champ",
        9_900,
        40,
        480,
        "A compact sumo robot with wedge blade and line sensors for competitions.",
    ),
    (
        "AI-NPU-STICK",
        "ai",
        "Neural Stick",
        8_900,
        50,
        45,
        "A USB neural accelerator that runs vision models at thirty frames a second.",
    ),
    (
        "AI-EDGE-BOARD",
        "ai",
        "Edge Brain Board",
        19_900,
        20,
        180,
        "A single-board computer with an AI accelerator for robots that think on board.",
    ),
    (
        "AI-VOICE-KIT",
        "ai",
        "Voice Assistant Kit",
        6_900,
        35,
        260,
        "A microphone array and speaker kit for offline speech recognition.",
    ),
    (
        "AI-VISION-CAM",
        "ai",
        "Smart Vision Camera",
        14_900,
        15,
        310,
        "A camera that detects people, pets and parcels without a cloud.",
    ),
    (
        "AI-GPU-MODULE",
        "ai",
        "GPU Compute Module",
        59_900,
        5,
        420,
        "A compute module with a small GPU for training models at the edge.",
    ),
    (
        "AI-MODEL-PACK",
        "ai",
        "Pretrained Model Pack",
        2_900,
        500,
        10,
        "A licence pack of pretrained models for detection, pose and speech.",
    ),
    (
        "AI-TPU-HAT",
        "ai",
        "TPU Hat",
        7_900,
        28,
        60,
        "An add-on board that gives a single-board computer tensor acceleration.",
    ),
    (
        "AI-ROBOT-BRAIN",
        "ai",
        "Robot Brain Controller",
        34_900,
        9,
        350,
        "A controller that fuses sensors and plans paths with on-board neural networks.",
    ),
    (
        "AI-CHATBOT-CUBE",
        "ai",
        "Chat Cube",
        12_900,
        16,
        640,
        "A desktop cube that answers questions with a local language model.",
    ),
    (
        "AI-GESTURE-BAND",
        "ai",
        "Gesture Band",
        9_900,
        24,
        70,
        "A wristband that turns hand gestures into robot commands.",
    ),
    (
        "DRONE-MINI-1",
        "drones",
        "Pocket Drone",
        7_900,
        45,
        95,
        "A palm-sized quadcopter with prop guards for flying indoors.",
    ),
    (
        "DRONE-MAPPER-2",
        "drones",
        "Mapper Pro",
        149_900,
        3,
        6400,
        "A survey drone that maps fields in 3D with centimetre accuracy.",
    ),
    (
        "DRONE-RACER-3",
        "drones",
        "FPV Racer",
        32_900,
        11,
        720,
        "A first-person-view racing quadcopter that reaches 120 km/h.",
    ),
    (
        "DRONE-CAMERA-4",
        "drones",
        "Sky Camera",
        54_900,
        8,
        890,
        "A folding camera drone with a stabilised gimbal and obstacle avoidance.",
    ),
    (
        "DRONE-DELIVERY-5",
        "drones",
        "Parcel Lifter",
        99_900,
        2,
        5200,
        "A hexacopter that lifts two kilograms for delivery experiments.",
    ),
    (
        "DRONE-SWARM-6",
        "drones",
        "Swarm Starter Set",
        44_900,
        5,
        1500,
        "Five small drones that fly in formation from one controller.",
    ),
    (
        "DRONE-WING-7",
        "drones",
        "Fixed Wing Glider",
        27_900,
        10,
        2100,
        "A fixed-wing drone with autopilot for long flights.",
    ),
    (
        "DRONE-UNDERWATER-8",
        "drones",
        "Aqua Drone",
        64_900,
        4,
        4300,
        "An underwater drone that dives to fifty metres with lights and camera.",
    ),
    (
        "DRONE-FRAME-9",
        "drones",
        "Carbon Frame Kit",
        5_900,
        30,
        240,
        "A carbon-fibre quadcopter frame for building your own drone.",
    ),
    (
        "DRONE-GOGGLES-10",
        "drones",
        "FPV Goggles",
        21_900,
        14,
        480,
        "Video goggles with low latency for first-person flying.",
    ),
    (
        "SENSOR-LIDAR-1",
        "sensors",
        "Spin Lidar",
        9_900,
        26,
        190,
        "A 360 degree laser rangefinder that scans rooms for mapping.",
    ),
    (
        "SENSOR-DEPTH-2",
        "sensors",
        "Depth Camera",
        17_900,
        13,
        160,
        "A stereo depth camera that sees distance as well as colour.",
    ),
    (
        "SENSOR-IMU-3",
        "sensors",
        "Nine-Axis IMU",
        2_900,
        80,
        15,
        "An inertial unit with gyroscope, accelerometer and compass.",
    ),
    (
        "SENSOR-ULTRASONIC-4",
        "sensors",
        "Ultrasonic Ranger",
        900,
        150,
        12,
        "A sonar distance sensor that measures from two centimetres to four metres.",
    ),
    (
        "SENSOR-GPS-5",
        "sensors",
        "RTK GPS",
        24_900,
        9,
        110,
        "A GPS receiver with real-time kinematics for centimetre positioning.",
    ),
    (
        "SENSOR-THERMAL-6",
        "sensors",
        "Thermal Camera",
        29_900,
        7,
        210,
        "A thermal camera that finds warm bodies and hot motors.",
    ),
    (
        "SENSOR-TOUCH-7",
        "sensors",
        "Touch Skin",
        3_900,
        60,
        90,
        "A flexible touch sensor sheet that gives robots a sense of touch.",
    ),
    (
        "SENSOR-GAS-8",
        "sensors",
        "Gas Sniffer",
        1_900,
        70,
        20,
        "A gas sensor board that detects smoke, alcohol and methane.",
    ),
    (
        "SENSOR-LINE-9",
        "sensors",
        "Line Follower Array",
        1_500,
        90,
        25,
        "An array of eight infrared sensors for line-following robots.",
    ),
    (
        "SENSOR-FORCE-10",
        "sensors",
        "Force Gauge",
        4_900,
        33,
        140,
        "A load cell and amplifier that weigh what a gripper holds.",
    ),
    (
        "KIT-SERVO-PACK",
        "kits",
        "Servo Pack",
        3_900,
        120,
        560,
        "Ten metal-gear servos for arms, legs and grippers.",
    ),
    (
        "KIT-STEPPER-SET",
        "kits",
        "Stepper Motor Set",
        4_900,
        55,
        1400,
        "Four stepper motors with drivers for precise movement.",
    ),
    (
        "KIT-CHASSIS-4WD",
        "kits",
        "4WD Chassis",
        6_900,
        40,
        1900,
        "An aluminium four-wheel-drive chassis with motors and encoders.",
    ),
    (
        "KIT-GRIPPER",
        "kits",
        "Soft Gripper",
        8_900,
        19,
        330,
        "A soft robotic gripper that picks up eggs without breaking them.",
    ),
    (
        "KIT-BATTERY-PACK",
        "kits",
        "Battery Pack",
        5_900,
        65,
        620,
        "A rechargeable lithium battery pack with a protection circuit.",
    ),
    (
        "KIT-MOTOR-DRIVER",
        "kits",
        "Dual Motor Driver",
        1_900,
        100,
        40,
        "A driver board for two DC motors with current sensing.",
    ),
    (
        "KIT-WHEELS-OMNI",
        "kits",
        "Omni Wheels",
        3_500,
        48,
        520,
        "Four omnidirectional wheels for robots that move sideways.",
    ),
    (
        "KIT-CONTROLLER",
        "kits",
        "Robot Controller Board",
        4_500,
        75,
        70,
        "A microcontroller board with motor, servo and sensor ports.",
    ),
    (
        "KIT-SOLDER-STATION",
        "kits",
        "Solder Station",
        7_900,
        21,
        2300,
        "A temperature-controlled soldering station for building robots.",
    ),
    (
        "KIT-STARTER-BOX",
        "kits",
        "Robotics Starter Box",
        11_900,
        27,
        1700,
        "Everything to build your first robot: board, motors, sensors and a guide.",
    ),
];

/// Adds the demo categories and any demo product that is missing; returns
/// how many products it added.
pub async fn load(store: &dyn CatalogStore) -> StoreResult<usize> {
    for (slug, name, description) in CATEGORIES {
        store
            .upsert_category(&Slug::from_store(slug.to_owned()), name, description)
            .await?;
    }
    let mut added = 0;
    for (sku, category, name, price_cents, stock, weight_grams, description) in PRODUCTS {
        let sku = Sku::from_store(sku.to_owned());
        if store.product(&sku).await?.is_some() {
            continue;
        }
        let product = NewProduct {
            sku,
            name: name.to_owned(),
            description: description.to_owned(),
            price_cents,
            category: Slug::from_store(category.to_owned()),
            stock,
            weight_grams,
        };
        if store.upsert_product(&product).await?.is_some() {
            added += 1;
        }
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ProductInput;

    #[test]
    fn every_demo_product_passes_the_api_validation() {
        for (sku, category, name, price_cents, stock, weight_grams, description) in PRODUCTS {
            let input = ProductInput {
                name: name.to_owned(),
                description: description.to_owned(),
                price_cents,
                category: category.to_owned(),
                stock,
                weight_grams,
            };
            NewProduct::validate(&input, sku).unwrap_or_else(|error| panic!("{sku}: {error}"));
            assert!(
                CATEGORIES.iter().any(|(slug, ..)| *slug == category),
                "{sku}"
            );
        }
        let mut skus: Vec<_> = PRODUCTS.iter().map(|product| product.0).collect();
        skus.sort_unstable();
        skus.dedup();
        assert_eq!(skus.len(), PRODUCTS.len(), "SKUs are unique");
    }
}
