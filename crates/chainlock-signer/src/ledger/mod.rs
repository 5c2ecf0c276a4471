//! The Ledger signer (Bitcoin Cash app, over HID or a Speculos TCP transport): written by the Ledger engineer.
