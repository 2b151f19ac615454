"""LDAP / Active Directory directory sync: sources per organization, runs, the scheduled job."""
