"""Platforms defined only for the tests (found by the registry: settings_test adds this
package to CHANNEL_PLATFORM_PACKAGES). Each proves that a platform is new files only."""
