DROP TABLE member_name_keys;
