"""The client's address comes from the deployment's trusted proxies only, never from a header anyone can send."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import RequestFactory, override_settings

from dtsen_portal.client_address import client_ip, rate_key


def request(remote="203.0.113.7", forwarded=None):
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    return RequestFactory().get("/", REMOTE_ADDR=remote, **headers)


def test_without_trusted_proxies_x_forwarded_for_is_ignored():
    assert client_ip(request(forwarded="1.2.3.4")) == "203.0.113.7"


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8", "127.0.0.1"])
def test_behind_trusted_proxies_the_first_untrusted_hop_from_the_right_is_the_client():
    assert client_ip(request("10.0.0.2", "203.0.113.9")) == "203.0.113.9"
    assert client_ip(request("10.0.0.2", "6.6.6.6, 203.0.113.9")) == "203.0.113.9"  # the forged hop is ignored
    assert client_ip(request("127.0.0.1", "6.6.6.6, 203.0.113.9, 10.1.2.3")) == "203.0.113.9"  # two proxies


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8"])
def test_a_request_not_from_a_trusted_proxy_keeps_its_own_address():
    assert client_ip(request("198.51.100.4", "10.0.0.9")) == "198.51.100.4"


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8"])
def test_garbage_in_the_header_falls_back_to_the_proxy_that_reported_it():
    assert client_ip(request("10.0.0.2", "<script>, unknown")) == "10.0.0.2"
    assert client_ip(request("10.0.0.2", "")) == "10.0.0.2"
    assert client_ip(request("10.0.0.2", "203.0.113.9, nonsense, 10.0.0.3")) == "10.0.0.3"


def test_an_ipv6_client_is_counted_by_its_64_network():
    assert rate_key("2001:db8:1:2:aaaa::1") == rate_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert rate_key("2001:db8:1:3::1") != rate_key("2001:db8:1:2::1")
    assert rate_key("::ffff:203.0.113.7") == rate_key("203.0.113.7") == "203.0.113.7"
    assert rate_key("") == "unknown"


@pytest.mark.parametrize("value", ["10.0.0.0/8,not-an-address", "300.1.1.1"])
def test_a_bad_trusted_proxies_setting_stops_the_start_with_a_clear_message(value):
    env = {**os.environ, "TRUSTED_PROXIES": value, "DJANGO_SETTINGS_MODULE": "dtsen_portal.settings",
           "DJANGO_SECRET_KEY": "x"}
    done = subprocess.run([sys.executable, "-c", "import django; django.setup()"], env=env, capture_output=True,
                          text=True, cwd=Path(__file__).resolve().parent.parent, timeout=60)
    assert done.returncode != 0 and "TRUSTED_PROXIES" in done.stderr and "is not an IP address" in done.stderr
