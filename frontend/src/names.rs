//! Default player names: a spider genus, picked at random for every page load.

/// Genera of spiders, Drapetisca's own family (sheet weavers) first.
const GENERA: &[&str] = &[
    "Drapetisca",
    "Linyphia",
    "Neriene",
    "Erigone",
    "Argiope",
    "Araneus",
    "Nephila",
    "Zygiella",
    "Larinioides",
    "Tetragnatha",
    "Pholcus",
    "Tegenaria",
    "Agelena",
    "Salticus",
    "Evarcha",
    "Pisaura",
    "Dolomedes",
    "Lycosa",
    "Pardosa",
    "Xysticus",
    "Misumena",
    "Thomisus",
    "Theridion",
    "Latrodectus",
    "Steatoda",
    "Dysdera",
    "Segestria",
    "Clubiona",
    "Cheiracanthium",
    "Oxyopes",
    "Micrommata",
    "Atypus",
];

/// The genus at `roll` (any number; it wraps around the list).
pub fn genus(roll: u32) -> &'static str {
    GENERA[roll as usize % GENERA.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_roll_gives_a_capitalised_genus() {
        for roll in [0, 1, 31, 32, 1000, u32::MAX] {
            let name = genus(roll);
            assert!(name.chars().next().unwrap().is_uppercase(), "{name}");
            assert!(name.len() <= protocol::MAX_NAME_CHARS);
        }
    }
}
