//! The coded values of the data dictionary.

use crate::coded_value;

coded_value!(
    /// Urban or rural.
    AreaType { Urban = "urban", Rural = "rural" }
);
coded_value!(
    /// Tenure of the dwelling.
    HouseOwnership { Owned = "owned", Rented = "rented", RentFree = "rent_free" }
);
coded_value!(
    /// A member's relation to the head of household.
    Relation {
        Head = "head", Spouse = "spouse", Son = "son", Daughter = "daughter", Parent = "parent",
        Sibling = "sibling", Grandchild = "grandchild", OtherRelative = "other_relative", Unrelated = "unrelated",
    }
);
coded_value!(
    /// Sex as recorded on the ID document.
    Sex { Male = "male", Female = "female", Transgender = "transgender" }
);
coded_value!(
    /// The identity document a member holds.
    IdType { Cnic = "cnic", BForm = "b_form", None = "none" }
);
coded_value!(
    /// Marital status.
    MaritalStatus {
        NeverMarried = "never_married", Married = "married", Widowed = "widowed", Divorced = "divorced",
        Separated = "separated",
    }
);
coded_value!(
    /// Religion (collected only because Zakat schemes depend on it).
    Religion { Muslim = "muslim", Christian = "christian", Hindu = "hindu", Sikh = "sikh", Other = "other" }
);
coded_value!(
    /// Disability type.
    Disability {
        None = "none", Physical = "physical", Visual = "visual", Hearing = "hearing", Speech = "speech",
        Intellectual = "intellectual", Psychosocial = "psychosocial", Multiple = "multiple",
    }
);
coded_value!(
    /// Current school level.
    SchoolLevel {
        None = "none", Primary = "primary", Secondary = "secondary", HigherSecondary = "higher_secondary",
        Tertiary = "tertiary", Madrasa = "madrasa",
    }
);
coded_value!(
    /// Employment status.
    Employment {
        EmployedFormal = "employed_formal", EmployedInformal = "employed_informal", SelfEmployed = "self_employed",
        Unemployed = "unemployed", Student = "student", Homemaker = "homemaker", Retired = "retired",
        UnableToWork = "unable_to_work", Child = "child",
    }
);
coded_value!(
    /// The kind of school, college or madrasa a member attends.
    InstitutionType { Government = "government", Private = "private", Madrasa = "madrasa", Community = "community" }
);
coded_value!(
    /// The pension a member draws (or drew, for a deceased member).
    PensionDrawn { None = "none", Eobi = "eobi", Government = "government", Essi = "essi" }
);
coded_value!(
    /// Why a member left the household.
    RemovalReason { Deceased = "deceased", MovedOut = "moved_out", MarriedOut = "married_out", DataError = "data_error" }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coded_values_round_trip() {
        for r in Relation::ALL {
            assert_eq!(Relation::parse(r.as_str()), Some(*r));
        }
        assert_eq!(Sex::parse("female"), Some(Sex::Female));
        assert_eq!(Sex::parse("Female"), None);
        assert_eq!(RemovalReason::allowed(), "deceased, moved_out, married_out, data_error");
        assert_eq!(serde_json::to_string(&IdType::BForm).ok().as_deref(), Some("\"b_form\""));
    }
}
