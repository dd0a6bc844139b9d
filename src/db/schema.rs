// @generated automatically by Diesel CLI.

diesel::table! {
    audit_chains (chain_id) {
        chain_id -> Text,
        last_seq -> BigInt,
        last_mac -> Text,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Text,
        chain_id -> Text,
        seq -> BigInt,
        occurred_at -> Timestamp,
        actor_user_id -> Nullable<Text>,
        actor_username -> Nullable<Text>,
        actor_role -> Nullable<Text>,
        action -> Text,
        object_type -> Nullable<Text>,
        object_id -> Nullable<Text>,
        district_code -> Nullable<Text>,
        request_id -> Nullable<Text>,
        client_addr -> Nullable<Text>,
        outcome -> Text,
        details -> Text,
        prev_mac -> Text,
        mac -> Text,
    }
}

diesel::table! {
    decision_changes (id) {
        id -> Text,
        household_id -> Text,
        scheme_id -> Text,
        from_status -> Nullable<Text>,
        to_status -> Text,
        rules_version -> Text,
        as_of -> Date,
        cause -> Text,
        changed_at -> Timestamp,
    }
}

diesel::table! {
    districts (code) {
        code -> Text,
        name -> Text,
        division -> Text,
        active -> Bool,
    }
}

diesel::table! {
    household_changes (id) {
        id -> Text,
        household_id -> Text,
        member_id -> Nullable<Text>,
        version -> BigInt,
        change_type -> Text,
        changes -> Text,
        reason -> Nullable<Text>,
        changed_by -> Text,
        changed_at -> Timestamp,
    }
}

diesel::table! {
    household_counters (district_code) {
        district_code -> Text,
        last_value -> BigInt,
    }
}

diesel::table! {
    household_decisions (household_id) {
        household_id -> Text,
        household_version -> BigInt,
        rules_version -> Text,
        as_of -> Date,
        eligible -> Text,
        undetermined -> Text,
        decided_at -> Timestamp,
        missing -> Nullable<Text>,
        profile -> Nullable<Text>,
    }
}

diesel::table! {
    households (id) {
        id -> Text,
        household_number -> Text,
        district_code -> Text,
        tehsil -> Nullable<Text>,
        union_council -> Nullable<Text>,
        village -> Nullable<Text>,
        address -> Nullable<Text>,
        area_type -> Nullable<Text>,
        phone -> Nullable<Text>,
        monthly_income_pkr -> Nullable<BigInt>,
        pmt_score -> Nullable<Double>,
        land_acres -> Nullable<Double>,
        livestock_heads -> Nullable<Integer>,
        house_ownership -> Nullable<Text>,
        rooms -> Nullable<Integer>,
        owns_vehicle -> Nullable<Bool>,
        import_hash -> Nullable<Text>,
        version -> BigInt,
        registered_by -> Text,
        registered_office -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        owns_residential_plot -> Nullable<Bool>,
    }
}

diesel::table! {
    id_number_claims (id_number) {
        id_number -> Text,
        household_id -> Text,
        member_id -> Text,
    }
}

diesel::table! {
    idempotency_keys (user_id, idempotency_key) {
        user_id -> Text,
        idempotency_key -> Text,
        request_hash -> Text,
        status_code -> Integer,
        response_headers -> Text,
        response_body -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    member_name_keys (name_group, member_id) {
        name_group -> Text,
        dedup_key -> Text,
        household_id -> Text,
        member_id -> Text,
        household_number -> Text,
    }
}

diesel::table! {
    members (id) {
        id -> Text,
        household_id -> Text,
        status -> Text,
        removal_reason -> Nullable<Text>,
        removed_at -> Nullable<Timestamp>,
        full_name -> Text,
        name_key -> Text,
        father_or_husband_name -> Nullable<Text>,
        relation_to_head -> Text,
        sex -> Text,
        date_of_birth -> Date,
        id_type -> Text,
        id_number -> Nullable<Text>,
        marital_status -> Nullable<Text>,
        religion -> Nullable<Text>,
        disability -> Nullable<Text>,
        disability_certificate -> Nullable<Bool>,
        chronic_illness -> Nullable<Bool>,
        is_pregnant -> Nullable<Bool>,
        is_lactating -> Nullable<Bool>,
        is_orphan -> Nullable<Bool>,
        school_enrolled -> Nullable<Bool>,
        school_level -> Nullable<Text>,
        attendance_pct -> Nullable<Integer>,
        employment -> Nullable<Text>,
        monthly_income_pkr -> Nullable<BigInt>,
        govt_employee -> Nullable<Bool>,
        taxpayer -> Nullable<Bool>,
        eobi_registered -> Nullable<Bool>,
        eobi_contribution_years -> Nullable<Integer>,
        essi_registered -> Nullable<Bool>,
        dedup_key -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        full_name_ur -> Nullable<Text>,
        name_key_ur -> Nullable<Text>,
        institution_type -> Nullable<Text>,
        pension_drawn -> Nullable<Text>,
        years_of_service -> Nullable<Integer>,
        employment_injury -> Nullable<Bool>,
        certified_unfit -> Nullable<Bool>,
        protection_need -> Nullable<Bool>,
        substance_use -> Nullable<Bool>,
        marriage_arranged -> Nullable<Bool>,
        date_of_death -> Nullable<Date>,
    }
}

diesel::table! {
    referral_events (id) {
        id -> Text,
        referral_id -> Text,
        from_status -> Nullable<Text>,
        to_status -> Text,
        reason -> Nullable<Text>,
        actor -> Text,
        occurred_at -> Timestamp,
        household_id -> Text,
    }
}

diesel::table! {
    referrals (id) {
        id -> Text,
        referral_number -> Text,
        household_id -> Text,
        district_code -> Text,
        scheme_id -> Text,
        status -> Text,
        eligibility -> Text,
        override_reason -> Nullable<Text>,
        rules_version -> Text,
        referred_by -> Text,
        referred_at -> Timestamp,
        acknowledge_by -> Date,
        updated_at -> Timestamp,
        acknowledged_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    rescreen_runs (id) {
        id -> Text,
        rules_version -> Text,
        as_of -> Date,
        district_code -> Nullable<Text>,
        status -> Text,
        last_household_id -> Nullable<Text>,
        processed -> BigInt,
        written -> BigInt,
        summary -> Text,
        started_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    impact_changes (report_id, household_id, scheme_id) {
        report_id -> Text,
        household_id -> Text,
        scheme_id -> Text,
        change -> Text,
        before_status -> Text,
        after_status -> Text,
    }
}

diesel::table! {
    impact_reports (id) {
        id -> Text,
        proposal_id -> Text,
        purpose -> Text,
        as_of -> Date,
        district_code -> Nullable<Text>,
        rules_before -> Text,
        rules_after -> Text,
        before_versions -> Text,
        computed_by -> Text,
        computed_at -> Timestamp,
        body -> Text,
    }
}

diesel::table! {
    rule_decisions (id) {
        id -> Text,
        proposal_id -> Text,
        kind -> Text,
        user_id -> Nullable<Text>,
        username -> Nullable<Text>,
        comment -> Nullable<Text>,
        impact_report_id -> Nullable<Text>,
        activation_report_id -> Nullable<Text>,
        decided_at -> Timestamp,
    }
}

diesel::table! {
    rule_files (scheme_id) {
        scheme_id -> Text,
        version_id -> Text,
    }
}

diesel::table! {
    rule_freezes (id) {
        id -> Text,
        starts_on -> Date,
        ends_on -> Date,
        reason -> Text,
        created_by -> Text,
        created_at -> Timestamp,
        lifted_by -> Nullable<Text>,
        lifted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    rule_proposals (id) {
        id -> Text,
        status -> Text,
        summary -> Text,
        effective_from -> Date,
        schemes -> Text,
        files -> Text,
        retire -> Text,
        base_rules_version -> Text,
        rollback_of -> Nullable<Text>,
        author_id -> Text,
        author -> Text,
        approved_report_id -> Nullable<Text>,
        activation_claimed_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        activated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    rule_state (id) {
        id -> Integer,
        generation -> BigInt,
        rules_version -> Text,
        changed_at -> Timestamp,
    }
}

diesel::table! {
    rule_versions (id) {
        id -> Text,
        scheme_id -> Text,
        seq -> Integer,
        file_name -> Text,
        body -> Nullable<Text>,
        sha256 -> Text,
        proposal_id -> Nullable<Text>,
        summary -> Text,
        proposed_by -> Nullable<Text>,
        approved_by -> Nullable<Text>,
        activated_by -> Text,
        effective_from -> Date,
        activated_at -> Timestamp,
    }
}

diesel::table! {
    screenings (id) {
        id -> Text,
        household_id -> Text,
        household_version -> BigInt,
        as_of -> Date,
        rules_version -> Text,
        result -> Text,
        screened_by -> Text,
        screened_at -> Timestamp,
    }
}

diesel::table! {
    user_districts (user_id, district_code) {
        user_id -> Text,
        district_code -> Text,
    }
}

diesel::table! {
    user_schemes (user_id, scheme_id) {
        user_id -> Text,
        scheme_id -> Text,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        role -> Text,
        password_hash -> Text,
        active -> Bool,
        tokens_valid_after -> Timestamp,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(decision_changes -> households (household_id));
diesel::joinable!(household_changes -> households (household_id));
diesel::joinable!(household_counters -> districts (district_code));
diesel::joinable!(household_decisions -> households (household_id));
diesel::joinable!(rule_files -> rule_versions (version_id));
diesel::joinable!(households -> districts (district_code));
diesel::joinable!(members -> households (household_id));
diesel::joinable!(referral_events -> referrals (referral_id));
diesel::joinable!(referrals -> districts (district_code));
diesel::joinable!(referrals -> households (household_id));
diesel::joinable!(screenings -> households (household_id));
diesel::joinable!(user_districts -> districts (district_code));
diesel::joinable!(user_districts -> users (user_id));
diesel::joinable!(user_schemes -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    audit_chains,
    audit_events,
    decision_changes,
    districts,
    household_changes,
    household_counters,
    household_decisions,
    households,
    id_number_claims,
    idempotency_keys,
    impact_changes,
    impact_reports,
    member_name_keys,
    members,
    referral_events,
    referrals,
    rescreen_runs,
    rule_decisions,
    rule_files,
    rule_freezes,
    rule_proposals,
    rule_state,
    rule_versions,
    screenings,
    user_districts,
    user_schemes,
    users,
);
